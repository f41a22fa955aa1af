package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/progress"
	"github.com/groundwork-dev/groundwork/internal/rotate"
)

// NewCmdKeys returns the keys command group.
func NewCmdKeys(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "keys <command>", Short: "Manage the environment's secret keys"}
	cmd.AddCommand(NewCmdRotate(f, nil))
	return cmd
}

// RotateOptions are keys rotate's inputs.
type RotateOptions struct {
	F           *cmdutil.Factory
	File        string
	LockTimeout time.Duration
}

// NewCmdRotate returns keys rotate; runF replaces the behaviour in tests of
// flag parsing.
func NewCmdRotate(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "rotate FILE",
		Short: "Rotate the environment's key: the SOPS age key or the Sealed Secrets sealing key",
		Long: `Rotate the key of an environment with a file key store.

SOPS: generate a new age key (kept beside the current one as <key>.next until
the end), give the cluster both keys, re-encrypt every SOPS file in the
environment's folder and its .sops.yaml for both and commit, wait until Flux
applied that revision, then re-encrypt for the new key alone, commit, wait
again, and only then remove the old key from the cluster and retire it in the
key store (<key>.retired-<time>, kept so that old revisions stay readable).
Interrupted, it resumes with the same new key.

Sealed Secrets: renew the sealing key. Any key the cluster has that the key
store lacks is kept in the store first; then a new key pair is appended to
the key store and only then applied to the cluster as an active key, so the
controller seals new secrets with it (and secret set seals for it). Every old
key stays, in the store and in the cluster: SealedSecrets sealed before still
decrypt, and nothing in Git is re-encrypted. The controller's own automatic
renewal is off: this is how the sealing key is renewed.

External Secrets keeps no key of groundwork's: nothing to rotate.`,
		Example: "  groundwork keys rotate environments/gke.hcl",
		Args:    cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return RunRotate(cmd.Context(), opts)
		},
	}
	cmdutil.DurationVar(cmd.Flags(), &opts.LockTimeout, "lock-timeout", 10*time.Minute, "wait this long for another run on the environment to finish (0: fail at once)")
	return cmd
}

// RunRotate rotates.
func RunRotate(ctx context.Context, opts *RotateOptions) error {
	f := opts.F
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	stateDir := f.StateDir(env)
	rep := progress.New(f.IO.ErrOut, f.IO.ErrTTY, f.Globals.Verbose)
	_, statErr := os.Stat(stateDir)
	newState := errors.Is(statErr, os.ErrNotExist)
	lock, err := cmdutil.Acquire(ctx, stateDir, "keys rotate", opts.LockTimeout, rep)
	if err != nil {
		return err
	}
	defer lock.Release()
	start := time.Now()
	out, err := rotate.Run(ctx, rotate.Options{Env: env, StateDir: stateDir, Environ: f.Environ(),
		Logf: func(format string, args ...any) { rep.Printf(" • "+format, args...) }})
	if err != nil {
		if newState {
			// Refused (or failed) on an environment with no state:
			// leave none, not a state directory holding a lock.
			_ = lock.Remove()
			f.RemoveStateRoot(env)
		}
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	if out.Sealed != nil {
		return reportSealed(f, env.Name, out.Sealed, took)
	}
	if f.Globals.JSON() {
		return f.WriteJSON(map[string]any{"format_version": "1", "environment": env.Name, "old_recipient": out.OldRecipient,
			"new_recipient": out.NewRecipient, "files": out.Files, "revisions": out.Revisions, "retired_key": out.Retired, "took_ms": took.Milliseconds()})
	}
	w := f.IO.Out
	fmt.Fprintf(w, "Rotated the age key of %s in %s: %d SOPS file(s) re-encrypted, applied at %s.\n", env.Name, progress.Duration(took), len(out.Files), out.Revisions[len(out.Revisions)-1])
	fmt.Fprintf(w, "  new recipient: %s\n  old key retired to %s (keep it to read old revisions; delete it when no longer needed)\n", out.NewRecipient, out.Retired)
	return nil
}

// reportSealed says what a Sealed Secrets rotation did.
func reportSealed(f *cmdutil.Factory, env string, s *rotate.SealedResult, took time.Duration) error {
	if f.Globals.JSON() {
		rescued := []map[string]string{}
		for _, r := range s.Rescued {
			rescued = append(rescued, map[string]string{"key": r.Key.ID(), "secret": s.Namespace + "/" + r.Secret})
		}
		return f.WriteJSON(map[string]any{"format_version": "1", "environment": env, "provider": "sealed-secrets",
			"new_key": s.Key.ID(), "not_before": s.Key.NotBefore().UTC().Format(time.RFC3339), "secret": s.Namespace + "/" + s.Secret,
			"key_store": s.KeyStore, "keys": s.Keys, "rescued": rescued, "took_ms": took.Milliseconds()})
	}
	w := f.IO.Out
	fmt.Fprintf(w, "Rotated the sealing key of %s in %s: new SealedSecrets are sealed for key %s, applied as Secret %s/%s.\n", env, progress.Duration(took), s.Key.Describe(), s.Namespace, s.Secret)
	for _, r := range s.Rescued {
		fmt.Fprintf(w, "  kept key %s from Secret %s/%s, which the key store lacked\n", r.Key.Describe(), s.Namespace, r.Secret)
	}
	fmt.Fprintf(w, "  %d key(s) kept in %s and in the cluster: SealedSecrets sealed before still decrypt; nothing in Git needs re-encrypting\n", s.Keys, s.KeyStore)
	return nil
}
