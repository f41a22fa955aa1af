package keys

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
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
		Short: "Rotate the environment's age key, re-encrypting its SOPS files",
		Long: `Rotate the age key of an environment that uses SOPS with a file key store:
generate a new key (kept beside the current one as <key>.next until the end),
give the cluster both keys, re-encrypt every SOPS file in the environment's
folder and its .sops.yaml for both and commit, wait until Flux applied that
revision, then re-encrypt for the new key alone, commit, wait again, and only
then remove the old key from the cluster and retire it in the key store
(<key>.retired-<time>, kept so that old revisions stay readable). Interrupted,
it resumes with the same new key.`,
		Example: "  groundwork keys rotate environments/prod.hcl",
		Args:    cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return RunRotate(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.LockTimeout, "lock-timeout", 10*time.Minute, "wait this long for another run on the environment to finish (0: fail at once)")
	return cmd
}

// RunRotate rotates.
func RunRotate(ctx context.Context, opts *RotateOptions) error {
	f := opts.F
	res := f.LoadSpec(opts.File)
	if err := f.ReportSpec(res); err != nil {
		return err
	}
	if err := f.Instantiate(res.Env, false); err != nil {
		return err
	}
	stateDir := f.StateDir(res.Env)
	rep := progress.New(f.IO.ErrOut, f.IO.ErrTTY, f.Globals.Verbose)
	lock, err := cmdup.Acquire(ctx, stateDir, "keys rotate", opts.LockTimeout, rep)
	if err != nil {
		return err
	}
	defer lock.Release()
	start := time.Now()
	out, err := rotate.Run(ctx, rotate.Options{Env: res.Env, StateDir: stateDir, Environ: f.Environ(),
		Logf: func(format string, args ...any) { rep.Printf(" • "+format, args...) }})
	if err != nil {
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	if f.Globals.JSON() {
		return f.WriteJSON(map[string]any{"format_version": "1", "environment": res.Env.Name, "old_recipient": out.OldRecipient,
			"new_recipient": out.NewRecipient, "files": out.Files, "revisions": out.Revisions, "retired_key": out.Retired, "took_ms": took.Milliseconds()})
	}
	w := f.IO.Out
	fmt.Fprintf(w, "Rotated the age key of %s in %s: %d SOPS file(s) re-encrypted, applied at %s.\n", res.Env.Name, took, len(out.Files), out.Revisions[len(out.Revisions)-1])
	fmt.Fprintf(w, "  new recipient: %s\n  old key retired to %s (keep it to read old revisions; delete it when no longer needed)\n", out.NewRecipient, out.Retired)
	return nil
}
