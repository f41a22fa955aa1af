package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/seed"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// Options are plan's inputs.
type Options struct {
	F                *cmdutil.Factory
	File             string
	DetailedExitCode bool
	// Terraform runs terraform plan for an eks, gke or aks cluster.
	Terraform bool
	// Offline leaves the GitOps repository unread.
	Offline bool
	// AdoptFiles are the files up --adopt-file would be given.
	AdoptFiles []string
	// TakeOverBootstrap plans as up --take-over-bootstrap would run.
	TakeOverBootstrap bool
	// Ephemeral and TTL plan as up --ephemeral --ttl would run: the
	// instance's name, folder, state directory and kubeconfig.
	Ephemeral bool
	TTL       time.Duration
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
state directory, and the GitOps repository's branch; it writes nowhere and
contacts no cluster or cloud.

From the repository it shows the seed step's change file by file, as
terraform plan shows resources: + added, ~ changed (with a unified diff under
-v), - removed, and ! conflicts: files of yours groundwork would have to write
over, and objects your repository declares that groundwork declares too; up
stops on those before its first change. --offline skips the repository.

With a notifications block, plan lists the targets under its header: name,
type, the environment variable its webhook URL comes from (never the URL) and
the events it is sent; in JSON as "notifications".

With --terraform, an eks, gke or aks environment's cluster step also shows
what terraform plan would change: groundwork renders the root module into the
state directory, runs terraform init (which reads the state backend, with your
cloud credentials) and terraform plan, and lists the resources to add, change
and destroy. It still changes nothing in the cloud.

A step the last run completed with the same inputs is marked done: up will
only check it. With --detailed-exitcode, plan exits 0 when nothing is left to
do and 3 when steps are pending, like terraform plan.`,
		Example: `  groundwork plan environments/local.hcl
  groundwork plan environments/eks.hcl --var region=eu-west-1 --output json
  groundwork plan environments/local.hcl --detailed-exitcode
  groundwork plan environments/eks.hcl --terraform
  groundwork plan environments/local.hcl -v --adopt-file clusters/local/apps.yaml`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return RunContext(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DetailedExitCode, "detailed-exitcode", false, "exit 3 when steps are pending, 0 when none")
	cmd.Flags().BoolVar(&opts.Terraform, "terraform", false, "for an eks, gke or aks cluster, run terraform plan and show its changes (reads the state backend)")
	cmd.Flags().BoolVar(&opts.TakeOverBootstrap, "take-over-bootstrap", false, "plan as up --take-over-bootstrap would run (a flux bootstrap folder replaced by groundwork's)")
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "do not read the GitOps repository (no file-by-file change)")
	cmd.Flags().StringArrayVar(&opts.AdoptFiles, "adopt-file", nil, "plan as up --adopt-file would run: this file of yours handed over to groundwork (repeatable)")
	cmd.Flags().BoolVar(&opts.Ephemeral, "ephemeral", false, "plan as up --ephemeral would run: a short-lived instance, named by --name-suffix")
	cmdutil.PositiveDurationVar(cmd.Flags(), &opts.TTL, "ttl", 2*time.Hour, "with --ephemeral: how long the instance lives")
	return cmd
}

// Run prints the plan.
func Run(opts *Options) error { return RunContext(context.Background(), opts) }

// RunContext prints the plan; ctx bounds terraform plan.
func RunContext(ctx context.Context, opts *Options) error {
	f := opts.F
	res := f.LoadSpec(opts.File)
	if err := f.ReportSpec(res); err != nil {
		return err
	}
	// The instance up would make, with its name, repository folder, state
	// directory (and so journal) and kubeconfig.
	if opts.Ephemeral && res.Env.Ephemeral == nil {
		res.Env.Ephemeral = &spec.Ephemeral{TTL: opts.TTL}
	}
	_, named := spec.InstanceSuffix(f.Globals.NameSuffix, f.Environ(), false)
	if err := f.Instantiate(res.Env, true); err != nil {
		return err
	}
	if e := res.Env.Ephemeral; e != nil && !named && e.Suffix != "" {
		fmt.Fprintf(f.IO.ErrOut, "Environment %s is ephemeral and neither --name-suffix nor a CI run names the instance, so up would pick a random suffix. This is the plan of instance %s; up --name-suffix %s makes exactly that one.\n", e.Base, res.Env.Name, e.Suffix)
	}
	stateDir := f.StateDir(res.Env)
	journal, err := actions.OpenJournal(stateDir)
	if err != nil {
		return err
	}
	p := plan.Build(res.Env, plan.Options{StateDir: stateDir})
	if opts.Terraform {
		if !res.Env.Cluster.Remote() {
			return cmdutil.UsageError("--terraform: a %s cluster is not provisioned through Terraform; only eks, gke and aks are", res.Env.Cluster.Provider)
		}
		expires, _ := plan.RecordedExpiry(journal)
		if p.Terraform, err = terraformPlan(ctx, f, res.Env, stateDir, expires); err != nil {
			return err
		}
	}
	if !opts.Offline {
		p.Repository = repositoryPlan(ctx, f, res.Env, stateDir, opts)
	}
	if f.Globals.JSON() {
		err = f.WriteJSON(p.ToJSON(journal))
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

// terraformPlan renders and initialises the environment's Terraform working
// directory and plans, progress on stderr.
func terraformPlan(ctx context.Context, f *cmdutil.Factory, env *spec.Environment, stateDir string, expires time.Time) (*terraform.Summary, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(f.IO.ErrOut, " • "+format+"\n", args...) }
	progress := func(line string) {
		if f.Globals.Verbose {
			fmt.Fprintf(f.IO.ErrOut, "   terraform: %s\n", line)
		}
	}
	d, err := remote.Prepare(ctx, env, remote.PrepareOptions{StateDir: stateDir, Expires: expires, Find: terraform.FindOptions{Logf: logf}, Progress: progress})
	if err != nil {
		return nil, err
	}
	return d.Plan(ctx, false)
}

// repositoryReadTimeout bounds plan's read of the repository.
const repositoryReadTimeout = 30 * time.Second

// repositoryPlan reads what up's seed step would do to the repository; a
// repository that cannot be read is said so, and plan goes on.
func repositoryPlan(ctx context.Context, f *cmdutil.Factory, env *spec.Environment, stateDir string, opts *Options) *plan.Repository {
	r := env.GitOps.Repository
	out := &plan.Repository{URL: r.URL, Branch: r.Branch, Files: []plan.RepositoryFile{}}
	sd, err := seed.New(seed.Options{Env: env, Environ: f.Environ(), Adopt: opts.AdoptFiles, TakeOverBootstrap: opts.TakeOverBootstrap})
	if err != nil {
		out.Error = err.Error()
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, repositoryReadTimeout)
	defer cancel()
	check, err := sd.Check(ctx)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out = plan.NewRepository(r.URL, r.Branch, check.Preview, check.Collisions, f.Globals.Verbose)
	out.KeyPending = check.KeyPending
	return out
}
