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

// NewCmdGC returns the gc command.
func NewCmdGC(f *cmdutil.Factory) *cobra.Command {
	return notYet("gc", "Delete expired ephemeral environments",
		`Find ephemeral environments whose time-to-live has passed (kind clusters on
this machine, cloud clusters by their tags) and delete them.`,
		"  groundwork gc --dry-run", cmdutil.ExactArgs(0),
		"Delete expired clusters with their own tools meanwhile.")
}
