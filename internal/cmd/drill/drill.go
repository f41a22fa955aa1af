package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/drill"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/progress"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// Options are drill's inputs.
type Options struct {
	F    *cmdutil.Factory
	File string
	// Kubeconfig and Context name a scratch cluster of the user's; both
	// empty: a kind cluster.
	Kubeconfig, Context string
	// Report is the HTML report's path; empty: none.
	Report          string
	TTL             time.Duration
	PlainHTTPCharts bool

	// ID names the drill (random when empty).
	ID string
	// Target, NewRebuild, Custody and NewInspector replace the real ones
	// (tests); nil means the real ones.
	Target       drill.Target
	NewRebuild   func(env *spec.Environment, stateDir string) (drill.Rebuild, error)
	Custody      drill.KeyCustody
	NewInspector func(c *kube.Client, env *spec.Environment, files map[string][]byte) drill.Inspector
	RecordExpiry func(ctx context.Context, c *kube.Client, instance string, env *spec.Environment, expires time.Time) error
}

// NewCmdDrill returns the drill command; runF replaces the behaviour in
// tests of flag parsing.
func NewCmdDrill(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "drill FILE",
		Short: "Rehearse a rebuild into a scratch cluster, measured layer by layer",
		Long: `A disaster-recovery rehearsal: rebuild the environment from Git and its key
store into a scratch cluster, with rebuild's own steps, then verify it as a user
would, and remove the scratch cluster.

The scratch cluster is a kind cluster named <environment>-drill-<id> (Docker
needed), or the cluster of --kubeconfig/--context, which must not be the
environment's own. The live cluster, its state directory (journal, lock) and
the repository are never touched: the drill has a state directory of its own,
and it never commits (rebuild's restore of missing files is left out).

Layers, in order, each measured: cluster (the scratch cluster answers), keys
(rebuild's preflight: the key store has the keys and the repository holds
the environment; every SOPS file in Git is encrypted for the key store's
recipient and one decrypts; with Sealed Secrets one SealedSecret unseals with
the stored keys; then the keys are restored), reconciler (Flux or Argo CD at the version Git
declares), sources (fetched), infrastructure (every HelmRelease, every
Application of a chart Ready), apps (every Kustomization or Application Ready,
every SOPS Secret decrypted into the cluster, every SealedSecret unsealed,
every ExternalSecret synced). The recovery time is from the start until the
apps layer is ready.

Afterwards, also when a layer failed or on Ctrl-C, the drill deletes the kind
cluster, or removes from the user's cluster what it installed (what the
reconciler applied, the Helm releases, namespaces and CRDs that were not
there before). An expiry record (--ttl) in its state directory and in the
scratch cluster lets groundwork gc remove what a killed drill left.

Exit status 1 when a layer fails, naming it; --report writes one
self-contained HTML page (timeline of the layers, objects with their health)
whatever the outcome.`,
		Example: `  groundwork drill environments/local.hcl --report drill.html
  groundwork drill environments/existing.hcl --kubeconfig scratch.kubeconfig --output json`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Kubeconfig, "kubeconfig", "", "drill into the cluster of this kubeconfig `file` instead of a kind cluster (never the environment's own)")
	fl.StringVar(&opts.Context, "context", "", "the kubeconfig's `context` to drill into (default: its current context)")
	fl.StringVar(&opts.Report, "report", "", "write the report as one self-contained HTML `file`")
	cmdutil.DurationVar(fl, &opts.TTL, "ttl", 2*time.Hour, "after this long, groundwork gc may remove what a killed drill left")
	fl.BoolVar(&opts.PlainHTTPCharts, "plain-http-charts", false, "fetch oci:// charts over plain HTTP (a registry mirror without TLS)")
	return cmd
}

// Run drills.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	if opts.TTL <= 0 {
		return cmdutil.UsageError("--ttl must be positive")
	}
	id := opts.ID
	if id == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	live := f.StateDir(env)
	instance := env.Name + "-drill-" + id
	stateDir := filepath.Join(filepath.Dir(live), instance)
	rep := progress.New(f.IO.ErrOut, f.IO.ErrTTY, f.Globals.Verbose)
	logf := func(format string, args ...any) {
		if f.Globals.Verbose {
			rep.Printf("   "+format, args...)
		}
	}
	target := opts.Target
	if target == nil {
		target = newTarget(f, opts, env, instance, stateDir, logf)
	}
	newRebuild := opts.NewRebuild
	if newRebuild == nil {
		newRebuild = func(env *spec.Environment, stateDir string) (drill.Rebuild, error) {
			return up.New(up.Options{Env: env, StateDir: stateDir, Environ: f.Environ(), ChartPlainHTTP: opts.PlainHTTPCharts, Logf: logf})
		}
	}
	keyCheck := opts.Custody
	if keyCheck == nil {
		keyCheck = custody.Checker{Environ: f.Environ()}
	}
	rep.Printf("Drill of %s into %s (state in %s)", env.Name, target.Describe(), stateDir)
	report, err := drill.Run(ctx, drill.Options{Env: env, File: opts.File, Instance: instance, StateDir: stateDir, Target: target,
		NewRebuild: newRebuild, Custody: keyCheck, NewInspector: opts.NewInspector, RecordExpiry: opts.RecordExpiry, TTL: opts.TTL, Reporter: rep, Logf: logf})
	err = cmdutil.Stopped(ctx, err)
	if err != nil {
		report.Error = cmdutil.ErrorDoc(err)
		var le *drill.LayerError
		if errors.As(err, &le) {
			report.Error.Step = string(le.Layer)
		}
	}
	if opts.Report != "" {
		if werr := writeHTML(opts.Report, report); werr != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: the HTML report: %v\n", werr)
			if err == nil {
				err = werr
			}
		}
	}
	if f.Globals.JSON() {
		if jerr := f.WriteJSON(report); jerr != nil {
			return jerr
		}
	} else {
		report.WriteText(f.IO.Out)
	}
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", err)
		return &cmdutil.ExitError{Code: cmdutil.ExitCode(err), Err: err, Reported: true}
	}
	return nil
}

// newTarget is the scratch cluster the flags ask for: the user's, or a
// kind cluster named as the drill.
func newTarget(f *cmdutil.Factory, opts *Options, env *spec.Environment, instance, stateDir string, logf func(string, ...any)) drill.Target {
	if opts.Kubeconfig != "" || opts.Context != "" {
		kc := opts.Kubeconfig
		if kc == "" {
			kc = defaultKubeconfig(f.Environ())
		}
		lk, lc := facts.Kubeconfig(env, f.StateDir(env))
		return &drill.UserCluster{Kubeconfig: kc, Context: opts.Context, LiveKubeconfig: lk, LiveContext: lc, Env: env, Logf: logf}
	}
	var k *spec.KindCluster
	if env.Cluster.Provider == spec.ProviderKind {
		k = env.Cluster.Kind
	}
	return &drill.KindCluster{Name: instance, Spec: k, StateDir: stateDir}
}

func writeHTML(path string, r *drill.Report) error {
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := r.WriteHTML(out); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// defaultKubeconfig is $KUBECONFIG's first file, else ~/.kube/config.
func defaultKubeconfig(environ []string) string {
	home := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "KUBECONFIG="); ok && v != "" {
			return filepath.SplitList(v)[0]
		}
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	return filepath.Join(home, ".kube", "config")
}
