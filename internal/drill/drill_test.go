package drill

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The fakes stand in for a scratch cluster, rebuild's steps and the
// cluster's objects: the sequencing, measuring and removal are what these
// tests prove; tests/e2e/drill_test.go runs the real ones on the harness.

type fakeTarget struct {
	provideErr error
	removeErr  error
	left       []string
	removed    int
	removeCtx  error // ctx.Err() when Remove ran
}

func (t *fakeTarget) Describe() string { return "fake cluster" }
func (t *fakeTarget) Provide(ctx context.Context) (string, string, error) {
	return "/scratch/kubeconfig", "scratch", t.provideErr
}
func (t *fakeTarget) Remove(ctx context.Context) ([]string, error) {
	t.removed++
	t.removeCtx = ctx.Err()
	return t.left, t.removeErr
}

type fakeStep struct {
	name  string
	ran   *[]string
	apply func(ctx context.Context) error
}

func (s *fakeStep) Plan() actions.Description                     { return actions.Description{Name: s.name} }
func (s *fakeStep) Check(context.Context) (actions.Status, error) { return actions.Status{}, nil }
func (s *fakeStep) Apply(ctx context.Context) error {
	*s.ran = append(*s.ran, s.name)
	if s.apply != nil {
		return s.apply(ctx)
	}
	return nil
}

type fakeRebuild struct {
	env       *spec.Environment
	stateDir  string
	ran       []string
	applies   map[string]func(context.Context) error
	preflight error
}

func (r *fakeRebuild) Preflight(context.Context) error { return r.preflight }
func (r *fakeRebuild) RebuildSteps() []actions.Step {
	var out []actions.Step
	for _, n := range []string{"cluster", "kubeconfig", "restore-keys", "reconciler", "restore-missing-files", "sync", "wait"} {
		out = append(out, &fakeStep{name: n, ran: &r.ran, apply: r.applies[n]})
	}
	return out
}
func (r *fakeRebuild) UseJournal(*actions.Journal) {}
func (r *fakeRebuild) Client() *kube.Client        { return nil }
func (r *fakeRebuild) Snapshot() (string, map[string][]byte) {
	return "main@sha1:abc", map[string][]byte{"clusters/dev/x.yaml": []byte("x")}
}

type fakeInspector struct {
	objs  map[Layer][]Object
	looks map[Layer]int
}

func (i *fakeInspector) Look(_ context.Context, l Layer) ([]Object, error) {
	i.looks[l]++
	return i.objs[l], nil
}

type custodyFunc func(ctx context.Context, env *spec.Environment, files map[string][]byte) error

func (f custodyFunc) Check(ctx context.Context, env *spec.Environment, files map[string][]byte) error {
	return f(ctx, env, files)
}

type fixture struct {
	o       Options
	target  *fakeTarget
	rb      *fakeRebuild
	insp    *fakeInspector
	expires []string
}

func newFixture(t *testing.T) *fixture {
	env := &spec.Environment{Name: "dev", Cluster: spec.Cluster{Provider: spec.ProviderKind}}
	env.GitOps.Repository.Path = "clusters/dev"
	env.GitOps.Sync.Timeout = time.Second
	fx := &fixture{target: &fakeTarget{}, rb: &fakeRebuild{applies: map[string]func(context.Context) error{}},
		insp: &fakeInspector{looks: map[Layer]int{}, objs: map[Layer][]Object{
			LayerSources:        {{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system", Ready: true}},
			LayerInfrastructure: {{Kind: "HelmRelease", Namespace: "infra", Name: "podinfo", Ready: true}},
			LayerApps:           {{Kind: "Kustomization", Namespace: "flux-system", Name: "apps", Ready: true}, {Kind: "Secret", Namespace: "shop", Name: "db", Ready: true}},
		}}}
	clock := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	fx.o = Options{Env: env, File: "dev.hcl", Instance: "dev-drill-abc", StateDir: filepath.Join(t.TempDir(), "dev-drill-abc"), Target: fx.target,
		NewRebuild: func(e *spec.Environment, sd string) (Rebuild, error) {
			fx.rb.env, fx.rb.stateDir = e, sd
			return fx.rb, nil
		},
		Custody:      custodyFunc(func(context.Context, *spec.Environment, map[string][]byte) error { return nil }),
		NewInspector: func(*kube.Client, *spec.Environment, map[string][]byte) Inspector { return fx.insp },
		RecordExpiry: func(_ context.Context, _ *kube.Client, instance string, _ *spec.Environment, exp time.Time) error {
			fx.expires = append(fx.expires, instance+" "+exp.Format(time.RFC3339))
			return nil
		},
		Poll: time.Millisecond,
		Now:  func() time.Time { clock = clock.Add(100 * time.Millisecond); return clock },
	}
	return fx
}

func TestDrillPasses(t *testing.T) {
	fx := newFixture(t)
	rep, err := Run(context.Background(), fx.o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.RTOMS <= 0 || rep.FailedLayer != "" || rep.Revision != "main@sha1:abc" {
		t.Errorf("report: %+v", rep)
	}
	var names []Layer
	for _, l := range rep.Layers {
		names = append(names, l.Name)
		if l.State != StatePassed {
			t.Errorf("layer %s: %s", l.Name, l.State)
		}
	}
	if !slices.Equal(names, Layers) {
		t.Errorf("layers %v", names)
	}
	// rebuild's steps, in its order, in their layers; never the one that
	// commits.
	if want := []string{"cluster", "kubeconfig", "restore-keys", "reconciler", "sync", "wait"}; !slices.Equal(fx.rb.ran, want) {
		t.Errorf("steps run: %v, want %v", fx.rb.ran, want)
	}
	stepsOf := func(l Layer) (out []string) {
		for _, s := range rep.Layers[slices.Index(Layers, l)].Steps {
			out = append(out, s.Name)
		}
		return out
	}
	if !slices.Equal(stepsOf(LayerCluster), []string{"cluster", "kubeconfig"}) || !slices.Equal(stepsOf(LayerKeys), []string{"restore-keys"}) ||
		!slices.Equal(stepsOf(LayerApps), []string{"wait"}) || !slices.Equal(stepsOf(LayerReconciler), []string{"reconciler"}) || !slices.Equal(stepsOf(LayerSources), []string{"sync"}) || len(stepsOf(LayerInfrastructure)) != 0 {
		t.Errorf("steps by layer: %+v", rep.Layers)
	}
	// Rebuild was pointed at the scratch cluster, in the drill's state.
	if e := fx.rb.env.Cluster.Existing; e == nil || e.Kubeconfig != "/scratch/kubeconfig" || e.Context != "scratch" || fx.rb.stateDir != fx.o.StateDir {
		t.Errorf("rebuild ran on %+v in %s", fx.rb.env.Cluster, fx.rb.stateDir)
	}
	if fx.o.Env.Cluster.Existing != nil {
		t.Error("the environment itself was changed")
	}
	if len(fx.expires) != 1 || !strings.HasPrefix(fx.expires[0], "dev-drill-abc 2026-11-30T07:00:00Z") {
		t.Errorf("expiry records: %v", fx.expires)
	}
	if fx.target.removed != 1 || rep.Removal == nil || !rep.Removal.Done {
		t.Errorf("removal: %d %+v", fx.target.removed, rep.Removal)
	}
	if _, err := os.Stat(fx.o.StateDir); !os.IsNotExist(err) {
		t.Errorf("the drill's state directory stays after a clean removal: %v", err)
	}
}

func TestDrillFailsAtKeysNamingTheFile(t *testing.T) {
	fx := newFixture(t)
	fx.o.Custody = custodyFunc(func(context.Context, *spec.Environment, map[string][]byte) error {
		return errors.New("clusters/dev/secrets/db.yaml: is encrypted for age recipient age1git only, not for the key store's key age1store")
	})
	rep, err := Run(context.Background(), fx.o)
	var le *LayerError
	if !errors.As(err, &le) || le.Layer != LayerKeys || !strings.Contains(err.Error(), "clusters/dev/secrets/db.yaml") {
		t.Fatalf("error: %v", err)
	}
	if rep.Passed || rep.FailedLayer != LayerKeys || rep.RTOMS != 0 {
		t.Errorf("report: %+v", rep)
	}
	for _, l := range rep.Layers[2:] {
		if l.State != StateNotReached {
			t.Errorf("layer %s after the failure: %s", l.Name, l.State)
		}
	}
	if slices.Contains(fx.rb.ran, "restore-keys") {
		t.Error("the keys were restored although they do not match Git")
	}
	if fx.target.removed != 1 {
		t.Error("the scratch cluster was not removed after a failure")
	}
}

func TestDrillFailsAtInfrastructureNamingTheHelmRelease(t *testing.T) {
	fx := newFixture(t)
	fx.insp.objs[LayerInfrastructure] = []Object{{Kind: "HelmRelease", Namespace: "infra", Name: "broken", File: "clusters/dev/infrastructure/broken.yaml", Message: "install retries exhausted"}}
	rep, err := Run(context.Background(), fx.o)
	var nr *NotReadyError
	if !errors.As(err, &nr) || rep.FailedLayer != LayerInfrastructure {
		t.Fatalf("error: %v, failed layer %q", err, rep.FailedLayer)
	}
	for _, want := range []string{"layer infrastructure failed", "HelmRelease infra/broken: install retries exhausted", "clusters/dev/infrastructure/broken.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if fx.insp.looks[LayerInfrastructure] < 2 {
		t.Errorf("a not-ready layer was looked at %d times: the drill must wait for it", fx.insp.looks[LayerInfrastructure])
	}
	if slices.Contains(fx.rb.ran, "wait") || rep.Layers[5].State != StateNotReached {
		t.Error("the apps layer ran after infrastructure failed")
	}
	// A stalled object fails at once.
	fx = newFixture(t)
	fx.o.Env.GitOps.Sync.Timeout = time.Hour
	fx.insp.objs[LayerInfrastructure] = []Object{{Kind: "HelmRelease", Namespace: "infra", Name: "broken", Stalled: true}}
	if _, err := Run(context.Background(), fx.o); err == nil || fx.insp.looks[LayerInfrastructure] != 1 {
		t.Errorf("stalled: %v after %d looks", err, fx.insp.looks[LayerInfrastructure])
	}
}

// TestDrillInterruptedStillRemoves: Ctrl-C in the middle of a step; the
// removal runs with a context that is not cancelled.
func TestDrillInterruptedStillRemoves(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	fx.rb.applies["reconciler"] = func(ctx context.Context) error { cancel(); <-ctx.Done(); return ctx.Err() }
	rep, err := Run(ctx, fx.o)
	if !errors.Is(err, context.Canceled) || rep.FailedLayer != LayerReconciler {
		t.Fatalf("%v at %q", err, rep.FailedLayer)
	}
	if fx.target.removed != 1 || fx.target.removeCtx != nil {
		t.Errorf("removal: %d times, its context %v", fx.target.removed, fx.target.removeCtx)
	}
}

// TestDrillRemovalFailureKeepsTheRecord: what could not be removed is
// said, and the state directory (the expiry record gc reads) stays.
func TestDrillRemovalFailureKeepsTheRecord(t *testing.T) {
	fx := newFixture(t)
	fx.target.left = []string{"Namespace shop"}
	rep, err := Run(context.Background(), fx.o)
	if err == nil || !strings.Contains(err.Error(), "Namespace shop") || !strings.Contains(err.Error(), "groundwork gc dev.hcl") {
		t.Fatalf("error: %v", err)
	}
	if !rep.Passed || rep.Removal.Done {
		t.Errorf("the layers passed, the removal did not: %+v", rep.Removal)
	}
	j, jerr := actions.OpenJournal(fx.o.StateDir)
	if jerr != nil || j.Outputs["expiry"]["expires"] != "2026-11-30T07:00:00Z" {
		t.Errorf("expiry record in the state directory: %v %v", j.Outputs, jerr)
	}
}

func TestDrillClusterFailure(t *testing.T) {
	fx := newFixture(t)
	fx.target.provideErr = errors.New("kind: no container runtime")
	rep, err := Run(context.Background(), fx.o)
	if err == nil || rep.FailedLayer != LayerCluster || !strings.Contains(err.Error(), "no container runtime") || fx.target.removed != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
}

// TestDrillMissingKeyFailsAtKeys: rebuild's preflight (the key store has
// no key) fails the keys layer, not the cluster's.
func TestDrillMissingKeyFailsAtKeys(t *testing.T) {
	fx := newFixture(t)
	fx.rb.preflight = errors.New("the age key of environment dev is missing: no key at keys/dev.agekey")
	rep, err := Run(context.Background(), fx.o)
	if err == nil || rep.FailedLayer != LayerKeys || rep.Layers[0].State != StatePassed || slices.Contains(fx.rb.ran, "restore-keys") {
		t.Fatalf("%v %+v", err, rep.Layers)
	}
}
