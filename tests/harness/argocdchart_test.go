package harness_test

import (
	"context"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestArgoCDChartRenders renders the argo-cd chart client-side, as Argo CD's
// repo-server (helm template) does when Argo CD manages itself: the CRDs
// from the module and one Deployment per program the supervisor runs.
func TestArgoCDChartRenders(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Argo CD module: skipped because -short was given")
	}
	ch, err := harness.NewArgoCDChart(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.IncludeCRDs = true, true, true
	inst.ReleaseName, inst.Namespace = harness.ArgoCDChartName, harness.ArgoCDNamespace
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	rel, err := inst.Run(ch, nil)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	kinds := map[string]int{}
	for _, doc := range strings.Split(rel.Manifest, "\n---\n") {
		var o struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		kinds[o.Kind]++
		if o.Kind == "Deployment" {
			t.Logf("Deployment %s", o.Metadata.Name)
		}
	}
	if kinds["CustomResourceDefinition"] != 3 || kinds["Deployment"] != 4 {
		t.Errorf("rendered kinds %v: want the 3 CRDs and 4 Deployments", kinds)
	}
	if !strings.Contains(rel.Manifest, "--app-resync=15") {
		t.Errorf("the controller's reconciliation timeout is not the chart's 15s:\n%s", rel.Manifest)
	}
}
