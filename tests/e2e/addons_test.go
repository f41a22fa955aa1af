package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// addons are two addons from the harness's chart repository, the second
// depending on the first.
const addons = `
  addon "base" {
    repository = var.charts
    chart      = "base"
    version    = "1.0.0"
    namespace  = "base"
  }
  addon "top" {
    repository = var.charts
    chart      = "top"
    version    = "1.0.0"
    namespace  = "top"
    depends_on = ["base"]
    values     = { message = "on top" }
  }
`

// TestAddonsAsHelmReleases: addons become HelmReleases that the real
// helm-controller installs, from the harness's chart repository, in
// dependency order, before the apps Kustomization applies; an addon whose
// chart version does not exist makes up fail naming the HelmRelease and
// helm-controller's reason.
func TestAddonsAsHelmReleases(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	w.charts.Add(t, harness.SimpleChart("base", "1.0.0"))
	w.charts.Add(t, harness.SimpleChart("top", "1.0.0"))
	if err := os.WriteFile(w.file, []byte(upEnvWith(addons)), 0o644); err != nil {
		t.Fatal(err)
	}
	g := w.groundwork(t, cp.AdminKubeconfig())
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())

	code, doc, errOut := g.up(ctx)
	if code != 0 {
		t.Fatalf("up with two addons: exit %d\n%s", code, errOut)
	}
	t.Logf("up with two addons: %d ms", doc.TookMS)
	for _, s := range doc.Steps {
		t.Logf("  %-12s %6d ms  %s", s.Name, s.TookMS, s.State)
	}
	deployed := map[string]time.Time{}
	for _, a := range []struct{ name, namespace, message string }{{"base", "base", "hello"}, {"top", "top", "on top"}} {
		// helm-controller keeps the release beside its HelmRelease.
		rel, err := action.NewStatus(harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace)).Run(a.name)
		if err != nil {
			t.Fatalf("addon %s: helm status: %v", a.name, err)
		}
		if rel.Info.Status != "deployed" {
			t.Errorf("addon %s: release %s", a.name, rel.Info.Status)
		}
		deployed[a.name] = rel.Info.FirstDeployed.Time
		cm, err := cp.Client().CoreV1().ConfigMaps(a.namespace).Get(ctx, a.name+"-"+a.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("addon %s: its ConfigMap: %v", a.name, err)
		}
		if cm.Data["message"] != a.message {
			t.Errorf("addon %s: message %q, want %q (the spec's values)", a.name, cm.Data["message"], a.message)
		}
		hr, err := dyn.Resource(helmReleaseGVR).Namespace(harness.FluxNamespace).Get(ctx, a.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !conditionTrue(hr, "Ready") {
			t.Errorf("HelmRelease %s not Ready after up", a.name)
		}
	}
	if deployed["top"].Before(deployed["base"]) {
		t.Errorf("top (depends on base) installed at %s, before base at %s", deployed["top"], deployed["base"])
	}
	apps, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).Get(ctx, "groundwork-apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if at := conditionTime(apps, "Ready"); at.Before(deployed["top"].Truncate(time.Second)) {
		t.Errorf("apps Ready at %s, before the addons were installed (%s)", at, deployed["top"])
	}

	// A version that does not exist: up fails and says which HelmRelease
	// and why.
	broken := upEnvWith(addons + `
  addon "broken" {
    repository = var.charts
    chart      = "base"
    version    = "9.9.9"
  }
`)
	if err := os.WriteFile(w.file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, doc, errOut = g.up(ctx)
	if code != 1 {
		t.Fatalf("up with a missing chart version: exit %d, want 1\n%s", code, errOut)
	}
	if doc.Error == nil || doc.Error.Step != "wait" {
		t.Errorf("failed step %+v, want wait", doc.Error)
	}
	for _, want := range []string{"HelmRelease broken", "9.9.9", "helm-controller"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not say %q:\n%s", want, errOut)
		}
	}
	t.Logf("up with a missing chart version says:\n%s", errOut)
}

// conditionTrue reports whether an object's condition of type typ is True.
func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			return m["status"] == "True"
		}
	}
	return false
}

// conditionTime is when an object's condition of type typ last changed.
func conditionTime(u *unstructured.Unstructured, typ string) time.Time {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			s, _ := m["lastTransitionTime"].(string)
			at, _ := time.Parse(time.RFC3339, s)
			return at
		}
	}
	return time.Time{}
}
