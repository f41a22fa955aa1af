package pending

import (
	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func notYet(use, short, long, example string, args cobra.PositionalArgs, meanwhile string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long, Example: example, Args: args,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdutil.NotImplemented(cmd.Name(), meanwhile)
		},
	}
}

// NewCmdUp returns the up command.
func NewCmdUp(f *cmdutil.Factory) *cobra.Command {
	return notYet("up FILE", "Bring an environment up: cluster, reconciler, secrets, seeded repository",
		`Run the steps plan shows: provision or adopt the cluster, install the GitOps
reconciler and the secrets integration with Helm, seed the GitOps repository and
point the reconciler at it, then wait until the cluster has applied it. Every
step is idempotent: running up again on a converged environment changes nothing,
and after an interruption it resumes where it stopped.`,
		"  groundwork up environments/dev.hcl", cmdutil.ExactArgs(1),
		"Use groundwork plan FILE to see the steps it will run.")
}

// NewCmdDown returns the down command.
func NewCmdDown(f *cmdutil.Factory) *cobra.Command {
	return notYet("down FILE", "Delete what up created",
		`Delete what up created: the kind or cloud cluster (an existing cluster is left
alone unless asked to uninstall the reconciler). The GitOps repository is left
alone unless --purge-repo is given.`,
		"  groundwork down environments/dev.hcl --yes", cmdutil.ExactArgs(1),
		"Delete the cluster with its own tools meanwhile (kind delete cluster --name NAME).")
}

// NewCmdRebuild returns the rebuild command.
func NewCmdRebuild(f *cmdutil.Factory) *cobra.Command {
	return notYet("rebuild FILE", "Bring an environment back from Git after its cluster was lost",
		`For an environment whose cluster is gone, broken or replaced: recreate or
re-adopt the cluster, restore the secret keys from the key store, reinstall the
reconciler and point it at the existing repository, then wait until everything
Git declares is applied. Prints the recovery time achieved.`,
		"  groundwork rebuild environments/prod.hcl", cmdutil.ExactArgs(1),
		"Use groundwork plan FILE to see the steps involved.")
}

// NewCmdStatus returns the status command.
func NewCmdStatus(f *cmdutil.Factory) *cobra.Command {
	return notYet("status FILE", "Show whether an environment's cluster is reachable, healthy and in sync",
		`Show whether the cluster answers, the reconciler's health, the last revision
it applied and the objects that are not ready.`,
		"  groundwork status environments/dev.hcl", cmdutil.ExactArgs(1),
		"Use groundwork plan FILE to see what the last run recorded.")
}

// NewCmdGC returns the gc command.
func NewCmdGC(f *cmdutil.Factory) *cobra.Command {
	return notYet("gc", "Delete expired ephemeral environments",
		`Find ephemeral environments whose time-to-live has passed (kind clusters on
this machine, cloud clusters by their tags) and delete them.`,
		"  groundwork gc --dry-run", cmdutil.ExactArgs(0),
		"Delete expired clusters with their own tools meanwhile.")
}
