package helm_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// webChart is a chart with a Deployment (one replica; values may give it a
// nodeSelector) and a ConfigMap holding .Values.message.
func webChart(name, version string) *chart.Chart {
	values := "replicas: 1\nmessage: hello\nnodeSelector: {}\n"
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, AppVersion: version, Type: "application"},
		Values:   map[string]any{"replicas": 1, "message": "hello", "nodeSelector": map[string]any{}},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte(values)}},
		Templates: []*chart.File{
			{Name: "templates/configmap.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  message: {{ .Values.message | quote }}
`)},
			{Name: "templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
      annotations:
        message: {{ .Values.message | quote }}
    spec:
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
      - name: web
        image: example.invalid/web:{{ .Chart.AppVersion }}
`)},
		},
	}
}

// env is one namespace of the shared control plane with its own Helm
// configuration and Installer.
type env struct {
	cs   kubernetes.Interface
	cfg  *action.Configuration
	inst *helm.Installer
	ns   string
}

func newEnv(t *testing.T, cp *harness.ControlPlane, ns string) *env {
	t.Helper()
	cs := cp.Client()
	cfg := harness.HelmConfig(t, cp.AdminKubeconfig(), ns)
	return &env{cs: cs, cfg: cfg, ns: ns, inst: &helm.Installer{
		Config:   cfg,
		CacheDir: t.TempDir(),
		Timeout:  2 * time.Minute,
		Explain: func(ctx context.Context, rel *release.Release) error {
			_, err := health.Check(ctx, cs, rel.Manifest, rel.Namespace)
			return err
		},
	}}
}

func (e *env) release(name string, ch spec.Chart, version string, values map[string]any) helm.Release {
	return helm.Release{Name: name, Namespace: e.ns, Chart: ch, Version: version, Values: values, CreateNamespace: true}
}

// ensure runs Ensure, logs how long it took and checks the outcome.
func (e *env) ensure(ctx context.Context, t *testing.T, r helm.Release, want helm.Outcome) {
	t.Helper()
	start := time.Now()
	got, err := e.inst.Ensure(ctx, r)
	if err != nil {
		t.Fatalf("Ensure %s %s: %v", r.Chart.Name, r.Version, err)
	}
	t.Logf("Ensure %s %s %v: %s in %s", r.Name, r.Version, r.Values, got, time.Since(start).Round(time.Millisecond))
	if got != want {
		t.Fatalf("Ensure %s %s: outcome %q, want %q", r.Name, r.Version, got, want)
	}
}

// deployed returns the latest revision of the release, which must be
// deployed with its workloads ready.
func (e *env) deployed(ctx context.Context, t *testing.T, name string) *release.Release {
	t.Helper()
	rel, err := action.NewGet(e.cfg).Run(name)
	if err != nil {
		t.Fatalf("get release %s: %v", name, err)
	}
	if rel.Info.Status != release.StatusDeployed {
		t.Fatalf("release %s revision %d is %s (%s), want deployed", name, rel.Version, rel.Info.Status, rel.Info.Description)
	}
	sts, err := health.Check(ctx, e.cs, rel.Manifest, rel.Namespace)
	if err != nil {
		t.Fatalf("release %s deployed but: %v", name, err)
	}
	if len(sts) != 1 || sts[0].Kind != "Deployment" || !sts[0].Ready {
		t.Fatalf("release %s workloads: %v", name, sts)
	}
	return rel
}

// addRevision records the next revision of a release as an interrupted or
// failed operation leaves it: the last revision's manifest, with status,
// description and values of its own (nothing is applied).
func (e *env) addRevision(t *testing.T, name string, st release.Status, desc string, values map[string]any) {
	t.Helper()
	last, err := e.cfg.Releases.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	next := *last
	info := *last.Info
	next.Info, next.Version, next.Config = &info, last.Version+1, values
	next.Info.Status, next.Info.Description = st, desc
	if err := e.cfg.Releases.Create(&next); err != nil {
		t.Fatal(err)
	}
}

func (e *env) configMessage(ctx context.Context, t *testing.T, name string) string {
	t.Helper()
	cm, err := e.cs.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["message"]
}

func (e *env) createNamespace(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestInstaller drives Installer.Ensure against a real API server (pods made
// Running/Ready by kwok), a Helm HTTP repository and an OCI registry, all
// shared by parallel subtests in namespaces of their own.
func TestInstaller(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
	start := time.Now()
	cp := harness.StartControlPlane(t)
	charts := harness.StartChartRepo(t)
	oci := harness.StartOCIRegistry(t)
	for _, v := range []string{"0.1.0", "0.2.0"} {
		charts.Add(t, webChart("web", v))
	}
	oci.Push(t, webChart("web", "0.3.0"), "charts")
	httpChart := spec.Chart{Repository: charts.URL(), Name: "web"}
	ociChart := spec.Chart{Repository: "oci://" + oci.Host + "/charts", Name: "web"}
	t.Logf("control plane, chart repository and OCI registry ready in %s", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)

	// 1+2: install, no-op, upgrade by values, by version, and "latest".
	t.Run("http-install-unchanged-upgrade", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cp, "http")
		r := e.release("web", httpChart, "0.1.0", map[string]any{"message": "one", "replicas": 1})
		e.ensure(ctx, t, r, helm.Installed)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 1 || rel.Chart.Metadata.Version != "0.1.0" {
			t.Fatalf("after install: revision %d of chart %s", rel.Version, rel.Chart.Metadata.Version)
		}
		if got := e.configMessage(ctx, t, "web"); got != "one" {
			t.Fatalf("configmap message %q, want one", got)
		}

		// Same inputs (values built afresh, int vs the float64 Helm
		// stores): nothing happens, not even a new revision.
		e.ensure(ctx, t, e.release("web", httpChart, "0.1.0", map[string]any{"replicas": 1, "message": "one"}), helm.Unchanged)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 1 {
			t.Fatalf("revision %d after an unchanged Ensure, want 1", rel.Version)
		}
		if h, _ := e.cfg.Releases.History("web"); len(h) != 1 {
			t.Fatalf("history has %d revisions, want 1", len(h))
		}

		// New values: an upgrade, one revision more.
		r.Values = map[string]any{"message": "two", "replicas": 1}
		e.ensure(ctx, t, r, helm.Upgraded)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 2 {
			t.Fatalf("revision %d after the values upgrade, want 2", rel.Version)
		}
		if got := e.configMessage(ctx, t, "web"); got != "two" {
			t.Fatalf("configmap message %q, want two", got)
		}

		// New version: an upgrade too.
		r.Version = "0.2.0"
		e.ensure(ctx, t, r, helm.Upgraded)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 3 || rel.Chart.Metadata.Version != "0.2.0" {
			t.Fatalf("after the version upgrade: revision %d of chart %s, want 3 of 0.2.0", rel.Version, rel.Chart.Metadata.Version)
		}
		e.ensure(ctx, t, r, helm.Unchanged)

		// No version means the latest, which is what is deployed.
		r.Version = ""
		e.ensure(ctx, t, r, helm.Unchanged)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 3 {
			t.Fatalf("revision %d after an unchanged Ensure of the latest version, want 3", rel.Version)
		}

		// No values at all: the chart's defaults, not the previous values
		// (Helm's upgrade keeps those unless told to reset them).
		r.Values = nil
		e.ensure(ctx, t, r, helm.Upgraded)
		if got := e.configMessage(ctx, t, "web"); got != "hello" {
			t.Fatalf("configmap message %q after dropping the values, want the default hello", got)
		}
		e.ensure(ctx, t, r, helm.Unchanged)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 4 {
			t.Fatalf("revision %d after dropping the values, want 4", rel.Version)
		}
	})

	// 3: a chart from an OCI registry served over plain HTTP.
	t.Run("oci-install", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cp, "oci")
		e.inst.PlainHTTP = true
		r := e.release("web", ociChart, "0.3.0", nil)
		e.ensure(ctx, t, r, helm.Installed)
		if rel := e.deployed(ctx, t, "web"); rel.Chart.Metadata.Version != "0.3.0" {
			t.Fatalf("deployed chart version %s, want 0.3.0", rel.Chart.Metadata.Version)
		}
		e.ensure(ctx, t, r, helm.Unchanged)
	})

	// 4: a Deployment that cannot become ready is explained, and the
	// failed release is repaired by the next Ensure.
	t.Run("not-ready-explained", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cp, "notready")
		e.inst.Timeout = 5 * time.Second
		r := e.release("web", httpChart, "0.1.0", map[string]any{"nodeSelector": map[string]any{"disktype": "ssd"}})
		start := time.Now()
		out, err := e.inst.Ensure(ctx, r)
		t.Logf("Ensure of an unschedulable Deployment failed after %s:\n%v", time.Since(start).Round(time.Millisecond), err)
		if err == nil {
			t.Fatalf("Ensure succeeded (%s) with a nodeSelector no node matches", out)
		}
		msg := err.Error()
		for _, want := range []string{"Deployment notready/web", "0/1 replicas ready", "Unschedulable", "didn't match Pod's node affinity/selector"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error does not say %q", want)
			}
		}
		var nr *health.NotReadyError
		if !errors.As(err, &nr) || len(nr.Objects) != 1 || nr.Objects[0].Name != "web" {
			t.Errorf("error does not wrap a *health.NotReadyError for the Deployment: %#v", nr)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error does not wrap Helm's context.DeadlineExceeded")
		}
		rel, gerr := action.NewGet(e.cfg).Run("web")
		if gerr != nil || rel.Info.Status != release.StatusFailed {
			t.Fatalf("release after the failed install: %v, %v", rel, gerr)
		}

		// The same values, but schedulable: a first install that failed
		// leaves no good revision to upgrade from (an interrupted one
		// leaves objects an upgrade would collide with), so it is removed
		// and installed afresh.
		e.inst.Timeout = time.Minute
		r.Values = nil
		e.ensure(ctx, t, r, helm.Installed)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 1 {
			t.Fatalf("revision %d after repairing the failed install, want 1 (installed afresh)", rel.Version)
		}
	})

	// Two groundwork runs at once (parallel CI jobs on one runner) share
	// the chart cache: neither may read the other's half-written index.
	t.Run("concurrent-fetch-shared-cache", func(t *testing.T) {
		t.Parallel()
		cache := t.TempDir()
		var wg sync.WaitGroup
		errs := make(chan error, 16*4)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := &helm.Installer{CacheDir: cache}
				for i := 0; i < 4; i++ {
					if _, err := inst.Fetch(ctx, helm.Release{Name: "web", Chart: httpChart, Version: "0.2.0"}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	// 5: releases left pending by an interrupted run are recovered.
	t.Run("recover-interrupted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cp, "recover")
		e.createNamespace(ctx, t)
		r := e.release("web", httpChart, "0.1.0", map[string]any{"message": "one"})

		// An install that died after applying its objects and before
		// recording the outcome: the release record says pending-install
		// and the objects exist.
		ch, err := e.inst.Fetch(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		dry := action.NewInstall(e.cfg)
		dry.ReleaseName, dry.Namespace, dry.DryRun = r.Name, r.Namespace, true
		pending, err := dry.RunWithContext(ctx, ch, map[string]any{"message": "one"})
		if err != nil {
			t.Fatal(err)
		}
		if pending.Info.Status != release.StatusPendingInstall {
			t.Fatalf("dry-run release is %s", pending.Info.Status)
		}
		objs, err := e.cfg.KubeClient.Build(bytes.NewBufferString(pending.Manifest), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cfg.KubeClient.Create(objs); err != nil {
			t.Fatal(err)
		}
		if err := e.cfg.Releases.Create(pending); err != nil {
			t.Fatal(err)
		}
		// Plain Helm cannot get past this record.
		plain := action.NewInstall(e.cfg)
		plain.ReleaseName, plain.Namespace = r.Name, r.Namespace
		if _, err := plain.RunWithContext(ctx, ch, nil); err == nil || !strings.Contains(err.Error(), "cannot re-use a name") {
			t.Fatalf("a plain install over a pending-install record: %v", err)
		}
		e.ensure(ctx, t, r, helm.Installed)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 1 {
			t.Fatalf("revision %d after recovering the pending install, want 1", rel.Version)
		}
		if h, _ := e.cfg.Releases.History("web"); len(h) != 1 {
			t.Fatalf("history has %d revisions after recovering the pending install, want 1", len(h))
		}

		// An upgrade that died midway: revision 2 pending-upgrade.
		e.addRevision(t, "web", release.StatusPendingUpgrade, "Preparing upgrade", map[string]any{"message": "half"})
		r.Values = map[string]any{"message": "two"}
		e.ensure(ctx, t, r, helm.Upgraded)
		rel := e.deployed(ctx, t, "web")
		if rel.Version != 4 { // 3 is the rollback to 1, 4 the upgrade
			t.Fatalf("revision %d after recovering the pending upgrade, want 4", rel.Version)
		}
		// Nothing stays pending in the history: the interrupted revision
		// is failed, as a failed upgrade's is.
		h, err := e.cfg.Releases.History("web")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range h {
			if v.Info.Status.IsPending() || (v.Version == 2 && v.Info.Status != release.StatusFailed) {
				t.Errorf("revision %d is %s after the recovery, want revision 2 failed and none pending", v.Version, v.Info.Status)
			}
		}
		if got := e.configMessage(ctx, t, "web"); got != "two" {
			t.Fatalf("configmap message %q, want two", got)
		}

		// A rollback that died midway, after a failed upgrade: revision 5
		// failed (values "broken"), 6 pending-rollback. The recovery goes
		// back to the deployed revision 4, not to the failed 5 (the one
		// before the pending one).
		e.addRevision(t, "web", release.StatusFailed, "Upgrade failed", map[string]any{"message": "broken"})
		e.addRevision(t, "web", release.StatusPendingRollback, "Rollback to 4", map[string]any{"message": "broken"})
		r.Values = map[string]any{"message": "three"}
		e.ensure(ctx, t, r, helm.Upgraded)
		rel = e.deployed(ctx, t, "web")
		if rel.Version != 8 { // 7 is the rollback to 4, 8 the upgrade
			t.Fatalf("revision %d after recovering the pending rollback, want 8", rel.Version)
		}
		rb, err := e.cfg.Releases.Get("web", 7)
		if err != nil {
			t.Fatal(err)
		}
		if got := rb.Config["message"]; got != "two" {
			t.Errorf("the recovery rolled back to values %v, want revision 4's (two)", got)
		}
		if got := e.configMessage(ctx, t, "web"); got != "three" {
			t.Fatalf("configmap message %q, want three", got)
		}
		if h, err = e.cfg.Releases.History("web"); err != nil {
			t.Fatal(err)
		}
		for _, v := range h {
			if v.Info.Status.IsPending() {
				t.Errorf("revision %d is %s after the recovery", v.Version, v.Info.Status)
			}
		}

		// An uninstall that died midway.
		rel.Info.Status = release.StatusUninstalling
		if err := e.cfg.Releases.Update(rel); err != nil {
			t.Fatal(err)
		}
		e.ensure(ctx, t, r, helm.Installed)
		if rel := e.deployed(ctx, t, "web"); rel.Version != 1 {
			t.Fatalf("revision %d after recovering the interrupted uninstall, want 1", rel.Version)
		}
	})

	// 6: a version that does not exist is named in the error.
	t.Run("missing-version", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cp, "missing")
		e.inst.PlainHTTP = true
		for _, ch := range []spec.Chart{httpChart, ociChart} {
			_, err := e.inst.Ensure(ctx, e.release("web", ch, "9.9.9", nil))
			t.Logf("%s: %v", ch.Repository, err)
			if err == nil {
				t.Fatalf("Ensure of web 9.9.9 from %s succeeded", ch.Repository)
			}
			for _, want := range []string{"web", "9.9.9", ch.Repository} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error from %s does not name %q", ch.Repository, want)
				}
			}
		}
	})
	t.Cleanup(func() { t.Logf("TestInstaller took %s", time.Since(start).Round(time.Millisecond)) })
}
