package down

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/down"
	"github.com/groundwork-dev/groundwork/internal/progress"
)

// Options are down's inputs.
type Options struct {
	F         *cmdutil.Factory
	File      string
	Uninstall bool
	PurgeRepo bool
}

// NewCmdDown returns the down command; runF replaces the behaviour in tests
// of flag parsing.
func NewCmdDown(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "down FILE",
		Short: "Delete what up created",
		// terraform apply/destroy, kubectl create/delete, helm install/uninstall.
		SuggestFor: []string{"destroy", "delete", "uninstall", "remove"},
		Long: `Delete what up created. A kind cluster is deleted. An eks, gke or aks cluster
is destroyed with terraform destroy, in the Terraform state (the state block's
backend, or the local state in the state directory) and workspace up used,
with everything its module created (network, node pools, identities); an s3
state bucket groundwork created stays. An existing cluster is not
groundwork's, so it is left alone unless --uninstall is given: then the
reconciler (Flux or Argo CD) is detached (its objects stop syncing and lose
their finalizers before they are deleted, so that what it applied stays), and
its Helm release and the Secrets groundwork gave it (Git credentials, keys) are
removed, and so is an ephemeral instance's expiry record.
The GitOps repository is left alone unless --purge-repo is given: then the
environment's files are removed in a commit (groundwork's, and the apps/ and
secrets/ folders it seeded); entry points of yours beside them stay, and a
kustomization.yaml of yours only loses the "- groundwork" entry. The local state goes; the keys
stay in their key store (the age key, or the sealing keys), since the
repository's secrets need them.

down prints what it will delete and does it only with --yes.`,
		Example: `  groundwork down environments/local.hcl --yes
  groundwork down environments/existing.hcl --uninstall --purge-repo --yes`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Uninstall, "uninstall", false, "on an existing cluster, remove the reconciler (what it applied stays)")
	cmd.Flags().BoolVar(&opts.PurgeRepo, "purge-repo", false, "remove the environment's files from the GitOps repository (yours beside them stay)")
	return cmd
}

// Run deletes.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	stateDir := f.StateDir(env)
	do := down.Options{Env: env, StateDir: stateDir, Environ: f.Environ(), Uninstall: opts.Uninstall, PurgeRepo: opts.PurgeRepo,
		Logf: func(format string, args ...any) { fmt.Fprintf(f.IO.ErrOut, " • "+format+"\n", args...) }}
	plan := down.Plan(do)
	if down.Destructive(do) && !f.Globals.Yes {
		fmt.Fprintf(f.IO.ErrOut, "down would:\n")
		for _, p := range plan {
			fmt.Fprintf(f.IO.ErrOut, "  - %s\n", p)
		}
		return cmdutil.UsageError("down deletes; run it again with --yes to confirm")
	}
	holder := fmt.Sprintf("pid %d, groundwork down, since %s", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	lock, err := actions.AcquireLock(ctx, stateDir, holder, false)
	if err != nil {
		return err
	}
	defer lock.Release()
	start := time.Now()
	if err := down.Run(ctx, do); err != nil {
		return err
	}
	// Nothing of groundwork's stays: not the lock, nor the state
	// directory when nothing of the user's is in it.
	if err := lock.Remove(); err != nil {
		return err
	}
	f.RemoveStateRoot(env)
	took := time.Since(start).Round(time.Millisecond)
	if f.Globals.JSON() {
		return f.WriteJSON(map[string]any{"format_version": "1", "environment": env.Name, "done": plan, "took_ms": took.Milliseconds()})
	}
	fmt.Fprintf(f.IO.Out, "Environment %s is down (%s):\n", env.Name, progress.Duration(took))
	for _, p := range plan {
		fmt.Fprintf(f.IO.Out, "  - %s\n", p)
	}
	return nil
}
