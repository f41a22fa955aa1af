package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

// Options are version's inputs.
type Options struct {
	F    *cmdutil.Factory
	Info buildinfo.Info
}

// NewCmdVersion returns the version command.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	return &cobra.Command{
		Use:   "version",
		Short: "Print groundwork's version",
		Args:  cmdutil.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Info = buildinfo.Get()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
}

// Run prints the version.
func Run(opts *Options) error {
	if opts.F.Globals.JSON() {
		return opts.F.WriteJSON(opts.Info)
	}
	i := opts.Info
	commit := ""
	if i.Commit != "" {
		commit = " commit " + i.Commit
	}
	_, err := fmt.Fprintf(opts.F.IO.Out, "groundwork %s%s (%s, %s)\n", i.Version, commit, i.GoVersion, i.Platform)
	return err
}
