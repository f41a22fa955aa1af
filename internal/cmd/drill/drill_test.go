package drill

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/drill"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
	"github.com/groundwork-dev/groundwork/internal/up"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdDrill(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/existing.hcl", "--kubeconfig", "scratch.yaml", "--context", "kind-scratch", "--report", "drill.html", "--ttl", "3h", "--plain-http-charts"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "environments/existing.hcl" || got.Kubeconfig != "scratch.yaml" || got.Context != "kind-scratch" || got.Report != "drill.html" || got.TTL != 3*time.Hour || !got.PlainHTTPCharts {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdDrill(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl"})
	if err := cmd.Execute(); err != nil || got.Kubeconfig != "" || got.Context != "" || got.Report != "" || got.TTL != 2*time.Hour {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	cmd = NewCmdDrill(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err == nil {
		t.Error("drill without a file")
	}
}

// TestTarget: a kind cluster named as the drill by default; the user's
// cluster with --kubeconfig or --context (KUBECONFIG's first file when only
// the context is given).
func TestTarget(t *testing.T) {
	f, _ := cmdtest.NewFactory("KUBECONFIG=/home/u/a.yaml:/home/u/b.yaml", "HOME=/home/u")
	env := &spec.Environment{Name: "dev", File: "/envs/dev.hcl", Cluster: spec.Cluster{Provider: spec.ProviderKind, Kind: &spec.KindCluster{KubernetesVersion: "v1.34.0"}}}
	k, ok := newTarget(f, &Options{}, env, "dev-drill-1", "/envs/.groundwork/dev-drill-1", nil).(*drill.KindCluster)
	if !ok || k.Name != "dev-drill-1" || k.Spec != env.Cluster.Kind || k.Describe() != "kind cluster dev-drill-1" {
		t.Errorf("kind: %+v", k)
	}
	u, ok := newTarget(f, &Options{Context: "scratch"}, env, "dev-drill-1", "", nil).(*drill.UserCluster)
	if !ok || u.Kubeconfig != "/home/u/a.yaml" || u.Context != "scratch" || u.LiveKubeconfig != "/envs/.groundwork/dev/kubeconfig" {
		t.Errorf("user's: %+v", u)
	}
	f, _ = cmdtest.NewFactory("HOME=/home/u")
	u = newTarget(f, &Options{Context: "scratch"}, env, "x", "", nil).(*drill.UserCluster)
	if u.Kubeconfig != "/home/u/.kube/config" {
		t.Errorf("default kubeconfig: %s", u.Kubeconfig)
	}
}

// Fakes of the scratch cluster, rebuild's steps and the cluster's objects:
// what is tested here is the command (its outputs and exit status);
// internal/drill tests the drill, tests/e2e/drill_test.go runs it for real.
type target struct{ removed bool }

func (t *target) Describe() string                                { return "fake cluster" }
func (t *target) Provide(context.Context) (string, string, error) { return "/scratch", "", nil }
func (t *target) Remove(context.Context) ([]string, error)        { t.removed = true; return nil, nil }

type rebuild struct{}

func (rebuild) Preflight(context.Context) error { return nil }
func (rebuild) RebuildSteps() []actions.Step    { return nil }
func (rebuild) UseJournal(*actions.Journal)     {}
func (rebuild) Client() *kube.Client            { return nil }
func (rebuild) Snapshot() (string, map[string][]byte) {
	return "main@sha1:abc", nil
}

type inspector map[drill.Layer][]drill.Object

func (i inspector) Look(_ context.Context, l drill.Layer) ([]drill.Object, error) { return i[l], nil }

type fakeCustody struct{ err error }

func (c fakeCustody) Check(context.Context, *spec.Environment, map[string][]byte) error { return c.err }

func setup(t *testing.T, json bool, custodyErr error, objs inspector) (*Options, cmdtest.Streams, *target) {
	file, _ := spectest.EnvFile(t, t.TempDir(), "https://git.example/fleet.git", spec.EngineFlux)
	f, io := cmdtest.NewFactory()
	if json {
		f.Globals.Output = cmdutil.OutputJSON
	}
	tg := &target{}
	return &Options{F: f, File: file, TTL: time.Hour, ID: "t1", Report: filepath.Join(t.TempDir(), "drill.html"), Target: tg,
		NewRebuild: func(*spec.Environment, string) (drill.Rebuild, error) { return rebuild{}, nil },
		Custody:    fakeCustody{custodyErr},
		NewInspector: func(*kube.Client, *spec.Environment, map[string][]byte) drill.Inspector {
			return objs
		},
		RecordExpiry: func(context.Context, *kube.Client, string, *spec.Environment, time.Time) error { return nil },
	}, io, tg
}

func TestPassed(t *testing.T) {
	opts, io, tg := setup(t, false, nil, inspector{drill.LayerApps: {{Kind: "Kustomization", Name: "apps", Ready: true}}})
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	out := io.Out.String()
	for _, want := range []string{"Drill of dev passed (on fake cluster, from main@sha1:abc).", "Recovery time: ", "apps", "1/1 ready", "Removed what the drill made"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if !tg.removed {
		t.Error("not removed")
	}
	page, err := os.ReadFile(opts.Report)
	if err != nil || !strings.Contains(string(page), "Recovery time:") {
		t.Errorf("HTML report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(opts.File), ".groundwork", "dev")); !os.IsNotExist(err) {
		t.Errorf("the live environment's state directory was made: %v", err)
	}
}

func TestFailedLayerJSON(t *testing.T) {
	opts, io, tg := setup(t, true, errors.New("clusters/dev/secrets/db.yaml is encrypted for age1git"), nil)
	err := Run(context.Background(), opts)
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != cmdutil.ExitFailure || !ee.Reported {
		t.Fatalf("error: %#v", err)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Passed        bool   `json:"passed"`
		FailedLayer   string `json:"failed_layer"`
		Layers        []struct {
			Name, State string
		} `json:"layers"`
		Error *struct {
			Kind, Message, Step string
			ExitCode            int `json:"exit_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, io.Out)
	}
	if doc.FormatVersion != "1" || doc.Passed || doc.FailedLayer != "keys" || len(doc.Layers) != 6 || doc.Error == nil ||
		doc.Error.Kind != "failed" || doc.Error.Step != "keys" || doc.Error.ExitCode != 1 || !strings.Contains(doc.Error.Message, "layer keys failed: clusters/dev/secrets/db.yaml") {
		t.Errorf("document:\n%s", io.Out)
	}
	if !strings.Contains(io.ErrOut.String(), "Error: layer keys failed") || !tg.removed {
		t.Errorf("stderr:\n%s", io.ErrOut)
	}
	if page, err := os.ReadFile(opts.Report); err != nil || !strings.Contains(string(page), "failed at keys") {
		t.Errorf("the HTML report of a failed drill: %v", err)
	}
}

func TestBadTTL(t *testing.T) {
	opts, _, _ := setup(t, false, nil, nil)
	opts.TTL = 0
	err := Run(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("--ttl 0: %v", err)
	}
}

// TestRebuildStepsKnown: every step of rebuild's real run has a layer, or
// is the one the drill leaves out because it commits; a step renamed in up
// would otherwise run in the wrong layer unnoticed.
func TestRebuildStepsKnown(t *testing.T) {
	file, _ := spectest.EnvFile(t, t.TempDir(), "https://git.example/fleet.git", spec.EngineFlux)
	res := spec.Load(file, spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	run, err := up.New(up.Options{Env: res.Env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	layers := map[drill.Layer]bool{}
	for _, s := range run.RebuildSteps() {
		name := s.Plan().Name
		names = append(names, name)
		l, ok := drill.StepLayer(name)
		switch {
		case ok:
			layers[l] = true
		case !drill.Commits(name):
			t.Errorf("rebuild's step %s has no layer in the drill", name)
		}
	}
	for _, l := range []drill.Layer{drill.LayerCluster, drill.LayerKeys, drill.LayerReconciler, drill.LayerSources, drill.LayerApps} {
		if !layers[l] {
			t.Errorf("no rebuild step runs in layer %s (steps: %v)", l, names)
		}
	}
}
