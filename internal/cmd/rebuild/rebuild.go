package rebuild

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
	"github.com/groundwork-dev/groundwork/internal/up"
)

// Options are rebuild's inputs.
type Options struct {
	F               *cmdutil.Factory
	File            string
	DryRun          bool
	LockTimeout     time.Duration
	PlainHTTPCharts bool
}

// NewCmdRebuild returns the rebuild command; runF replaces the behaviour in
// tests of flag parsing.
func NewCmdRebuild(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "rebuild FILE",
		Short: "Bring an environment back from Git after its cluster was lost",
		Long: `For an environment whose cluster is gone, broken or replaced: recreate (kind) or
re-adopt (existing) the cluster, restore the keys from the key store into the
cluster before anything reads them (SOPS: the age key; Sealed Secrets: every
sealing key; External Secrets keeps its secrets in AWS Secrets Manager and
only needs its store), reinstall the reconciler (Flux or Argo CD) at the
version Git declares, point it at the existing repository as Git declares it,
and wait until everything Git declares (Flux's Kustomizations, Argo CD's
Applications) is applied and healthy. The
repository is not re-seeded: only files groundwork owns that are missing are
restored, so what users changed stays, and a rebuild normally adds no commit.

Before touching anything, rebuild checks that the key store has the keys, that
the repository holds the environment, and that what the repository holds
decrypts with those keys (key custody: .sops.yaml's recipients and every SOPS
file, or every SealedSecret); if not, it stops and says exactly what is missing
or which file is encrypted for which other key. It prints the recovery time achieved (from its start
until everything is healthy) and the time of each step. --dry-run prints the
checks and the steps and touches nothing.`,
		Example: `  groundwork rebuild environments/existing.hcl
  groundwork rebuild environments/existing.hcl --dry-run`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "check and print what rebuild would do, touching nothing")
	cmdutil.DurationVar(cmd.Flags(), &opts.LockTimeout, "lock-timeout", 10*time.Minute, "wait this long for another run on the environment to finish (0: fail at once)")
	cmd.Flags().BoolVar(&opts.PlainHTTPCharts, "plain-http-charts", false, "fetch oci:// charts over plain HTTP (a registry mirror without TLS)")
	return cmd
}

// Run rebuilds.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	start := time.Now()
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	stateDir := f.StateDir(env)
	rep := progress.New(f.IO.ErrOut, f.IO.ErrTTY, f.Globals.Verbose)
	run, err := up.New(up.Options{Env: env, StateDir: stateDir, Environ: f.Environ(), ChartPlainHTTP: opts.PlainHTTPCharts,
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
	// Everything rebuild needs, all at once, before it touches anything;
	// a dry run needs only what it shows (the keys, the repository).
	check := func(ctx context.Context) error {
		return preflight.Run(ctx, "rebuild", preflight.DefaultTimeout, run.RebuildPrerequisites())
	}
	if opts.DryRun {
		check = run.Preflight
	}
	if err := check(ctx); err != nil {
		return fmt.Errorf("rebuild of %s stopped before touching the cluster: %w", env.Name, err)
	}
	steps := run.RebuildSteps()
	if opts.DryRun {
		return dryRun(f, env.Name, run, steps)
	}
	lock, err := cmdutil.Acquire(ctx, stateDir, "rebuild", opts.LockTimeout, rep)
	if err != nil {
		return err
	}
	defer lock.Release()
	journal, err := actions.OpenJournal(stateDir)
	if err != nil {
		return err
	}
	run.UseJournal(journal)
	result, runErr := (&actions.Runner{Command: "rebuild", Journal: journal, Reporter: rep}).Run(ctx, steps)
	runErr = cmdutil.Stopped(ctx, runErr)
	doc := up.NewDocument(env, run, result, cmdutil.ErrorDoc(runErr))
	rto := time.Since(start)
	if runErr == nil {
		doc.RTOMS = rto.Milliseconds()
	}
	if f.Globals.JSON() {
		if err := f.WriteJSON(doc); err != nil {
			return err
		}
	}
	if runErr != nil {
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", runErr)
		when := "Once the cause is fixed,"
		var se *cmdutil.StoppedError
		if errors.As(runErr, &se) {
			when = "To go on,"
		}
		fmt.Fprintf(f.IO.ErrOut, "%s run groundwork rebuild %s again: it resumes (journal: %s).\n", when, opts.File, journal.Path())
		return &cmdutil.ExitError{Code: cmdutil.ExitCode(runErr), Err: runErr, Reported: true}
	}
	if !f.Globals.JSON() {
		w := f.IO.Out
		fmt.Fprintf(w, "Environment %s rebuilt from %s.\n", env.Name, doc.Revision)
		fmt.Fprintf(w, "Recovery time: %s (from the start of rebuild until everything Git declares was applied and healthy)\n", progress.Duration(rto))
		for _, s := range doc.Steps {
			fmt.Fprintf(w, "  %-22s %8s  %s\n", s.Name, progress.Duration(time.Duration(s.TookMS)*time.Millisecond), s.State)
		}
	}
	return nil
}

func dryRun(f *cmdutil.Factory, name string, run *up.Run, steps []actions.Step) error {
	if f.Globals.JSON() {
		ds := make([]actions.Description, len(steps))
		for i, s := range steps {
			ds[i] = s.Plan()
		}
		return f.WriteJSON(map[string]any{"format_version": "1", "environment": name, "dry_run": true,
			"revision": run.Revision, "declared": map[string]any{"kind": run.DeclaredKind(), "names": run.Declared()}, "steps": ds})
	}
	w := f.IO.Out
	fmt.Fprintf(w, "rebuild of %s would (nothing touched; the key is in its store and the repository is at %s):\n", name, run.Revision)
	for i, s := range steps {
		d := s.Plan()
		fmt.Fprintf(w, "%d. %s: %s\n", i+1, d.Name, d.Title)
		for _, a := range d.Actions {
			line := fmt.Sprintf("     %s %s", a.Op, a.Resource)
			if a.Detail != "" {
				line += ": " + a.Detail
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "and wait for the %ss Git declares: %s\n", run.DeclaredKind(), strings.Join(run.Declared(), ", "))
	return nil
}
