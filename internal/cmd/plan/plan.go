package plan

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/engine"
	"github.com/groundwork-dev/groundwork/internal/plan"
)

// Options are plan's inputs.
type Options struct {
	F                *cmdutil.Factory
	File             string
	DetailedExitCode bool
}

// NewCmdPlan returns the plan command; runF replaces the behaviour in tests
// of flag parsing.
func NewCmdPlan(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show the steps up would run, touching nothing",
		Long: `Show, in order, the steps groundwork up would run for an environment (state
backend, cluster, kubeconfig, reconciler, secrets integration, repository seed,
sync objects, expiry, health wait), each with what it will create, read or wait
for. plan reads the environment file and the journal of the last run in the
state directory; it contacts no cluster, repository or cloud.

A step the last run completed with the same inputs is marked done: up will
only check it. With --detailed-exitcode, plan exits 0 when nothing is left to
do and 3 when steps are pending, like terraform plan.`,
		Example: `  groundwork plan environments/dev.hcl
  groundwork plan environments/eks.hcl --var region=eu-west-1 --output json
  groundwork plan environments/dev.hcl --detailed-exitcode`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DetailedExitCode, "detailed-exitcode", false, "exit 3 when steps are pending, 0 when none")
	return cmd
}

// Run prints the plan.
func Run(opts *Options) error {
	f := opts.F
	res := f.LoadSpec(opts.File)
	if err := f.ReportSpec(res); err != nil {
		return err
	}
	stateDir := f.StateDir(res.Env)
	journal, err := engine.OpenJournal(stateDir)
	if err != nil {
		return err
	}
	p := plan.Build(res.Env, plan.Options{StateDir: stateDir})
	if f.Globals.JSON() {
		err = p.WriteJSON(f.IO.Out, journal)
	} else {
		err = p.WriteText(f.IO.Out, journal)
	}
	if err != nil {
		return err
	}
	if n := len(p.Pending(journal)); opts.DetailedExitCode && n > 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitChanges, Reported: true, Err: fmt.Errorf("%d step(s) pending", n)}
	}
	return nil
}
