package root

import (
	"context"

	"github.com/spf13/cobra"

	deploycmd "github.com/groundwork-dev/groundwork/internal/cmd/deploy"
	downcmd "github.com/groundwork-dev/groundwork/internal/cmd/down"
	drillcmd "github.com/groundwork-dev/groundwork/internal/cmd/drill"
	gccmd "github.com/groundwork-dev/groundwork/internal/cmd/gc"
	keyscmd "github.com/groundwork-dev/groundwork/internal/cmd/keys"
	plancmd "github.com/groundwork-dev/groundwork/internal/cmd/plan"
	rebuildcmd "github.com/groundwork-dev/groundwork/internal/cmd/rebuild"
	secretcmd "github.com/groundwork-dev/groundwork/internal/cmd/secret"
	statuscmd "github.com/groundwork-dev/groundwork/internal/cmd/status"
	upcmd "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/cmd/validate"
	"github.com/groundwork-dev/groundwork/internal/cmd/version"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

// NewCmdRoot returns the groundwork command with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	g := f.Globals
	cmd := &cobra.Command{
		Use:   "groundwork <command> [flags]",
		Short: "Lay down a whole Kubernetes environment from one file, and lay it down again after a disaster",
		Long: `groundwork reads an environment file (environments/<name>.hcl) and brings up the
cluster, installs the GitOps reconciler and the secrets integration, and seeds
the GitOps repository, so that the cluster rebuilds itself from Git.

Start with:
  groundwork validate environments/local.hcl # what is wrong with the file, if anything
  groundwork plan environments/local.hcl     # what up would do, touching nothing`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       f.Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.Output != cmdutil.OutputText && g.Output != cmdutil.OutputJSON {
				return cmdutil.UsageError("--output must be text or json, not %q", g.Output)
			}
			if g.Timeout < 0 {
				return cmdutil.UsageError("--timeout must be positive, like 30m")
			}
			if g.Timeout > 0 {
				// Every command works under cmd.Context(); the deadline
				// ends it, and the process exits right after.
				ctx, cancel := context.WithTimeoutCause(cmd.Context(), g.Timeout, &cmdutil.TimeoutError{After: g.Timeout})
				cmd.SetContext(ctx)
				f.OnExit(cancel)
			}
			return nil
		},
	}
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: &cmdutil.FlagError{Err: err}}
	})
	cmd.SetVersionTemplate("groundwork {{.Version}}\n")

	pf := cmd.PersistentFlags()
	pf.StringArrayVar(&g.Vars, "var", nil, "set a variable of the environment file: `name=value` (repeatable)")
	pf.StringArrayVar(&g.VarFiles, "var-file", nil, "read variables from a `file` of name = value lines, HCL or JSON (repeatable)")
	pf.StringVarP(&g.Output, "output", "o", cmdutil.OutputText, "output `format`: text or json (one JSON document on stdout)")
	pf.BoolVarP(&g.Yes, "yes", "y", false, "do not ask for confirmation before destructive actions")
	cmdutil.DurationVar(pf, &g.Timeout, "timeout", 0, "give up after this `duration`, like 30m (default: no limit)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "say more about what happens")
	pf.StringVar(&g.NameSuffix, "name-suffix", "", "ephemeral environments: the instance's `suffix` (default: the CI run id, or random for up)")
	pf.StringVar(&g.StateDir, "state-dir", "", "state directory (`dir`, default: .groundwork/<environment> next to the environment file)")

	cmd.AddGroup(&cobra.Group{ID: "spec", Title: "Environment files:"}, &cobra.Group{ID: "lifecycle", Title: "Environments:"})
	for _, c := range []*cobra.Command{validate.NewCmdValidate(f, nil), plancmd.NewCmdPlan(f, nil)} {
		c.GroupID = "spec"
		cmd.AddCommand(c)
	}
	for _, c := range []*cobra.Command{upcmd.NewCmdUp(f, nil), downcmd.NewCmdDown(f, nil), rebuildcmd.NewCmdRebuild(f, nil), drillcmd.NewCmdDrill(f, nil), statuscmd.NewCmdStatus(f, nil), gccmd.NewCmdGC(f, nil)} {
		c.GroupID = "lifecycle"
		cmd.AddCommand(c)
	}
	for _, c := range []*cobra.Command{secretcmd.NewCmdSecret(f), keyscmd.NewCmdKeys(f), deploycmd.NewCmdDeploy(f, nil)} {
		c.GroupID = "lifecycle"
		cmd.AddCommand(c)
	}
	cmd.AddCommand(version.NewCmdVersion(f, nil))
	return cmd
}
