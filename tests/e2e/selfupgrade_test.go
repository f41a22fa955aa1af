package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

var helmReleaseGVR = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}

// helmReleaseRevision is the latest revision of a Helm release and its chart
// version, as Helm's storage has it.
func helmReleaseRevision(t *testing.T, cp *harness.ControlPlane, namespace, name string) (int, string) {
	t.Helper()
	rel, err := action.NewStatus(harness.HelmConfig(t, cp.AdminKubeconfig(), namespace)).Run(name)
	if err != nil {
		t.Fatalf("helm status %s/%s: %v", namespace, name, err)
	}
	return rel.Version, rel.Chart.Metadata.Version
}

// reconcileHelmRelease asks helm-controller to reconcile a HelmRelease now
// and waits until it has handled the request: one reconcile interval, on
// demand.
func reconcileHelmRelease(ctx context.Context, t *testing.T, dyn dynamic.Interface, namespace, name string) {
	t.Helper()
	token := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, token)
	ri := dyn.Resource(helmReleaseGVR).Namespace(namespace)
	if _, err := ri.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "HelmRelease "+name+" to handle reconcile request "+token, func(ctx context.Context) error {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		handled, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		if handled != token {
			return fmt.Errorf("last handled %q", handled)
		}
		return nil
	})
}

// TestFluxUpgradesItself: Flux's own release belongs to its HelmRelease in
// Git once up installed it. up at flux2 2.17.0, then further up runs and
// reconciles leave the Helm release revision where it is; a
// gitops.version bump to 2.17.2 (published after the first up) reaches the
// cluster through Git: helm-controller upgrades the release exactly once
// (CRDs upgraded, controllers restarted on the new pod templates), and
// nothing moves afterwards.
func TestFluxUpgradesItself(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	kubelet := harness.StartKubelet(t, cp)
	w := startFluxWorld(t)
	g := w.groundwork(t, cp.AdminKubeconfig())
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	ns, name := harness.FluxNamespace, harness.FluxChart.Name

	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up at %s: exit %d\n%s", harness.FluxChart.Version, code, errOut)
	}
	// up waited for the HelmRelease: helm-controller adopted the release
	// groundwork installed (one upgrade, revision 2).
	rev, version := helmReleaseRevision(t, cp, ns, name)
	t.Logf("after the first up: release %s revision %d, chart %s", name, rev, version)
	if version != harness.FluxChart.Version {
		t.Fatalf("chart %s after the first up, want %s", version, harness.FluxChart.Version)
	}
	steady := func(g *groundwork, when string, want int) {
		t.Helper()
		for i := 0; i < 3; i++ {
			reconcileHelmRelease(ctx, t, dyn, ns, name)
		}
		for i := 0; i < 2; i++ {
			code, doc, errOut := g.up(ctx)
			if code != 0 {
				t.Fatalf("%s: up: exit %d\n%s", when, code, errOut)
			}
			seen := false
			for _, s := range doc.Steps {
				if s.Name == "reconciler" {
					seen = true
					if s.State != "unchanged" {
						t.Errorf("%s: up's reconciler step %s, want unchanged (the release is Flux's)", when, s.State)
					}
				}
			}
			if !seen {
				t.Errorf("%s: up reported no reconciler step: %+v", when, doc.Steps)
			}
		}
		reconcileHelmRelease(ctx, t, dyn, ns, name)
		if got, _ := helmReleaseRevision(t, cp, ns, name); got != want {
			hist, _ := action.NewHistory(harness.HelmConfig(t, cp.AdminKubeconfig(), ns)).Run(name)
			for _, r := range hist {
				t.Logf("revision %d: chart %s, %s: %s (labels %v)", r.Version, r.Chart.Metadata.Version, r.Info.Status, r.Info.Description, r.Labels)
			}
			t.Fatalf("%s: release revision %d after three reconciles and two up runs, want %d", when, got, want)
		}
	}
	steady(g, "before the bump", rev)

	// A newer chart is published; the spec asks for it.
	w.charts.AddUpstream(t, harness.FluxChartNext)
	before := kubelet.StartedAt("helm-controller")
	bumped := *g
	bumped.vars = append(append([]string{}, g.vars...), "--var", "flux_version="+harness.FluxChartNext.Version)
	code, doc, errOut := bumped.up(ctx)
	if code != 0 {
		t.Fatalf("up with %s: exit %d\n%s", harness.FluxChartNext.Version, code, errOut)
	}
	for _, s := range doc.Steps {
		switch {
		case s.Name == "reconciler" && s.State != "unchanged":
			t.Errorf("the bump: reconciler step %s, want unchanged (helm-controller upgrades, not groundwork)", s.State)
		case s.Name == "seed" && s.State != "done":
			t.Errorf("the bump: seed step %s, want done (the new version committed)", s.State)
		}
	}
	got, version := helmReleaseRevision(t, cp, ns, name)
	t.Logf("after the bump: release %s revision %d, chart %s", name, got, version)
	if version != harness.FluxChartNext.Version || got != rev+1 {
		t.Fatalf("after the bump: revision %d chart %s, want revision %d chart %s", got, version, rev+1, harness.FluxChartNext.Version)
	}
	crd, err := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).
		Get(ctx, "helmreleases.helm.toolkit.fluxcd.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := harness.LoadUpstreamChart(t, harness.FluxChartNext).Metadata.AppVersion
	if v := crd.GetLabels()["app.kubernetes.io/version"]; v != next {
		t.Errorf("HelmRelease CRD labelled version %q after the upgrade, want %q", v, next)
	}
	waitFor(ctx, t, "helm-controller restarted on its new pod template", func(context.Context) error {
		if at := kubelet.StartedAt("helm-controller"); !at.After(before) {
			return fmt.Errorf("still the process started at %s", before.Format(time.RFC3339Nano))
		}
		return nil
	})
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer rcancel()
	if err := kubelet.WaitReady(rctx, "source-controller", "kustomize-controller", "helm-controller", "notification-controller"); err != nil {
		t.Fatalf("controllers after the upgrade: %v", err)
	}
	steady(&bumped, "after the bump", rev+1)
}
