package up

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/preflight"
	"github.com/groundwork-dev/groundwork/internal/progress"
	"github.com/groundwork-dev/groundwork/internal/seed"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// Options are up's inputs.
type Options struct {
	F    *cmdutil.Factory
	File string
	// LockTimeout is how long to wait for another run's lock; 0 fails at
	// once.
	LockTimeout time.Duration
	// PlainHTTPCharts allows an oci:// chart source without TLS.
	PlainHTTPCharts bool
	// Ephemeral makes the environment ephemeral with TTL, as an
	// ephemeral block would.
	Ephemeral bool
	TTL       time.Duration
	// AdoptFiles are repository paths handed over to groundwork: written
	// over although they lack the managed header.
	AdoptFiles []string
	// TakeOverBootstrap hands a Flux installed by flux bootstrap over.
	TakeOverBootstrap bool
}

// terraformLockWait bounds Terraform's wait for its state lock (a
// groundwork plan running beside up holds it for seconds).
const terraformLockWait = 2 * time.Minute

// NewCmdUp returns the up command; runF replaces the behaviour in tests of
// flag parsing.
func NewCmdUp(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "up FILE",
		Short: "Bring an environment up: cluster, reconciler, secrets, seeded repository",
		// terraform apply/destroy, kubectl create/delete, helm install/uninstall.
		SuggestFor: []string{"apply", "create", "install"},
		Long: `Run the steps plan shows: create or adopt the cluster, install the GitOps
reconciler with Helm, set up the secrets integration, seed the GitOps repository
and point the reconciler at it, then wait until the cluster has applied the
seeded revision. Progress goes to the error stream, with the time each step
took; the result (revision, kubeconfig) to the output stream.

Every step is idempotent: up on a converged environment changes nothing (no
commit, no Helm upgrade), and after an interruption (Ctrl-C, a crash, a
timeout) running up again resumes and converges. Two runs on the same
environment exclude each other: the second waits for the first up to
--lock-timeout, then fails saying who holds the lock.

Before its first change, up reads the GitOps repository: groundwork writes
only files it owns (they start with "# Managed by groundwork"), its own
folder groundwork/ under the environment's path, and one entry in your
kustomization.yaml there. A file it would have to write over, or an object
your repository declares that groundwork declares too, stops up with the
list and the ways out, before anything is changed. --adopt-file hands a
file over to groundwork explicitly; --take-over-bootstrap hands over a Flux
installed by flux bootstrap (Helm adopts its controllers in place, and one
commit replaces the bootstrap's files with groundwork's, nothing pruned).`,
		Example: `  groundwork up environments/local.hcl
  groundwork up environments/ci-ephemeral.hcl --output json --timeout 20m`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmdutil.DurationVar(cmd.Flags(), &opts.LockTimeout, "lock-timeout", 10*time.Minute, "wait this long for another run on the environment to finish (0: fail at once)")
	cmd.Flags().BoolVar(&opts.PlainHTTPCharts, "plain-http-charts", false, "fetch oci:// charts over plain HTTP (a registry mirror without TLS)")
	cmd.Flags().BoolVar(&opts.Ephemeral, "ephemeral", false, "make a short-lived instance (as an ephemeral block does): a unique name and repository folder, and an expiry gc acts on")
	cmdutil.PositiveDurationVar(cmd.Flags(), &opts.TTL, "ttl", 2*time.Hour, "with --ephemeral: how long the instance lives")
	cmd.Flags().StringArrayVar(&opts.AdoptFiles, "adopt-file", nil, "hand a file of the repository over to groundwork: it may replace its content although it lacks the managed header (repeatable; path from the repository root)")
	cmd.Flags().BoolVar(&opts.TakeOverBootstrap, "take-over-bootstrap", false, "hand a Flux installed by flux bootstrap over to groundwork: Helm adopts its controllers in place, and the bootstrap's files in the environment's folder are replaced by groundwork's")
	return cmd
}

// Document is up's JSON output (rebuild's too).
type Document = up.Document

// Run runs up.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	res := f.LoadSpec(opts.File)
	if err := f.ReportSpec(res); err != nil {
		return err
	}
	if opts.Ephemeral && res.Env.Ephemeral == nil {
		res.Env.Ephemeral = &spec.Ephemeral{TTL: opts.TTL}
	}
	if err := f.Instantiate(res.Env, true); err != nil {
		return err
	}
	env := res.Env
	stateDir := f.StateDir(env)
	rep := progress.New(f.IO.ErrOut, f.IO.ErrTTY, f.Globals.Verbose)
	if e := env.Ephemeral; e != nil {
		// First, whatever happens next: the name that finds the instance
		// again (status, down, a rerun).
		rep.Printf("Instance %s of %s: name it with --name-suffix %s (status, down, and up to resume).", env.Name, e.Base, e.Suffix)
	}
	run, err := up.New(up.Options{Env: env, StateDir: stateDir, Environ: f.Environ(), ChartPlainHTTP: opts.PlainHTTPCharts, Adopt: opts.AdoptFiles, TakeOverBootstrap: opts.TakeOverBootstrap,
		Logf: func(format string, args ...any) {
			if f.Globals.Verbose {
				rep.Printf("   "+format, args...)
			}
		}})
	if err != nil {
		var ue *up.UnsupportedError
		if errors.As(err, &ue) {
			return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
		}
		return err
	}
	// Terraform's progress (each resource created, and how long it took)
	// under the cluster step's line, verbose or not: creating a cloud
	// cluster takes minutes.
	// Terraform waits for its state's lock as up waits for the
	// environment's, but at most terraformLockWait: a lock a killed run
	// left in a remote backend is never released, and Terraform's own
	// error then names it and how to force-unlock it.
	run.UseTerraform(up.TerraformOptions{Progress: func(line string) { rep.Printf("   %s", line) }, LockTimeout: min(opts.LockTimeout, terraformLockWait)})
	lock, err := cmdutil.Acquire(ctx, stateDir, "up", opts.LockTimeout, rep)
	if err != nil {
		return err
	}
	defer lock.Release()
	journal, err := actions.OpenJournal(stateDir)
	if err != nil {
		return err
	}
	if journal.Interrupted() {
		rep.Printf("The last %s run on %s did not finish; resuming.", journal.Run.Command, env.Name)
	}
	run.UseJournal(journal)
	fresh := journal.Run.Started.IsZero() && len(journal.Steps) == 0 && len(journal.Outputs) == 0
	// Every prerequisite before anything, all at once, the repository
	// included: what up would take from the user stops it here too, with
	// nothing changed.
	var check *seed.Check
	err = preflight.Run(ctx, "up", preflight.DefaultTimeout, run.Prerequisites())
	if err == nil {
		check = run.RepositoryCheck() // what the preflight's read found
	}
	if err == nil {
		err = check.Err()
	}
	if err != nil {
		if fresh {
			// Refused before anything: leave no state directory
			// holding a lock.
			_ = lock.Remove()
			f.RemoveStateRoot(env)
		}
		err = cmdutil.Stopped(ctx, err)
		var ce *seed.ConflictError
		if f.Globals.JSON() {
			if werr := f.WriteJSON(up.NewDocument(env, run, nil, cmdutil.ErrorDoc(err))); werr != nil {
				return werr
			}
		}
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
		if !errors.As(err, &ce) {
			fmt.Fprintf(f.IO.ErrOut, "groundwork checks what up needs (the cluster, the key store, the GitOps repository) before its first change; nothing was changed.\n")
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitCode(err), Err: err, Reported: true}
	}
	for _, a := range opts.AdoptFiles {
		adopted := false
		for _, c := range check.Preview.Changes {
			adopted = adopted || c.Path == a
		}
		if !adopted {
			rep.Printf("--adopt-file %s: groundwork writes no such file; nothing to hand over (paths are from the repository root)", a)
		}
	}
	// Before the cluster step: gc finds the instance by this record even
	// if this run fails midway.
	if err := run.RecordInstance(); err != nil {
		return err
	}
	runner := &actions.Runner{Command: "up", Journal: journal, Reporter: rep}
	result, runErr := runner.Run(ctx, run.Steps())
	runErr = cmdutil.Stopped(ctx, runErr)
	doc := up.NewDocument(env, run, result, cmdutil.ErrorDoc(runErr))
	if f.Globals.JSON() {
		if err := f.WriteJSON(doc); err != nil {
			return err
		}
	}
	if runErr != nil {
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", runErr)
		fmt.Fprintf(f.IO.ErrOut, "%s run %s again: it resumes where this run stopped (journal: %s).\n", resumeWhen(runErr), rerun(opts, env), journal.Path())
		return &cmdutil.ExitError{Code: cmdutil.ExitCode(runErr), Err: runErr, Reported: true}
	}
	if !f.Globals.JSON() {
		writeText(f, doc)
	}
	return nil
}

// rerun is the command that resumes this run: the same file and, for an
// ephemeral instance, the same instance.
func rerun(opts *Options, env *spec.Environment) string {
	cmd := "groundwork up " + opts.File
	if opts.Ephemeral {
		cmd += " --ephemeral --ttl " + spec.FormatDuration(opts.TTL)
	}
	if e := env.Ephemeral; e != nil && e.Suffix != "" {
		cmd += " --name-suffix " + e.Suffix
	}
	return cmd
}

// resumeWhen starts the resume hint: after an interruption there is no
// cause to fix.
func resumeWhen(err error) string {
	var se *cmdutil.StoppedError
	if errors.As(err, &se) {
		return "To go on,"
	}
	return "Once the cause is fixed,"
}

func writeText(f *cmdutil.Factory, d Document) {
	w := f.IO.Out
	took := progress.Duration(time.Duration(d.TookMS) * time.Millisecond)
	if d.Changed {
		fmt.Fprintf(w, "Environment %s is up in %s.\n", d.Environment, took)
	} else {
		fmt.Fprintf(w, "Environment %s was already up; nothing changed (checked in %s).\n", d.Environment, took)
	}
	rows := [][2]string{
		{"revision", d.Revision},
		{"cluster", strings.TrimSpace(d.Server + " (Kubernetes " + d.KubernetesVersion + ")")},
		{"kubeconfig", d.Kubeconfig},
	}
	if d.Expires != nil {
		rows = append(rows, [2]string{"expires", d.Expires.Format(time.RFC3339)})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-11s %s\n", r[0]+":", r[1])
	}
}
