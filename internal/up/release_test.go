package up

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

// TestFluxHelmReleaseMatchesTheInstall: the flux2 HelmRelease in Git asks
// for exactly the chart, version and values up installs with the Helm SDK,
// so that taking the release over changes nothing in it.
func TestFluxHelmReleaseMatchesTheInstall(t *testing.T) {
	env := spectest.EnvOn(t, "https://git.example.com/fleet.git", spec.EngineFlux)
	files, err := render.Render(env, render.Options{AgeRecipient: "age1placeholder"})
	if err != nil {
		t.Fatal(err)
	}
	rel := engines.For(env).Release()
	var hr *unstructured.Unstructured
	for _, f := range files {
		if !strings.HasSuffix(f.Path, "groundwork/flux.yaml") {
			continue
		}
		objs, err := kube.Decode(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "HelmRelease" {
				hr = o
			}
		}
	}
	if hr == nil {
		t.Fatal("no HelmRelease in groundwork/flux.yaml")
	}
	name, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName")
	chart, _, _ := unstructured.NestedString(hr.Object, "spec", "chart", "spec", "chart")
	version, _, _ := unstructured.NestedString(hr.Object, "spec", "chart", "spec", "version")
	values, _, _ := unstructured.NestedMap(hr.Object, "spec", "values")
	if name != rel.Name || hr.GetNamespace() != rel.Namespace || chart != rel.Chart.Name || version != rel.Version {
		t.Errorf("HelmRelease %s/%s (chart %s %s), install %s/%s (chart %s %s)", hr.GetNamespace(), name, chart, version, rel.Namespace, rel.Name, rel.Chart.Name, rel.Version)
	}
	if !reflect.DeepEqual(values, rel.Values) {
		t.Errorf("HelmRelease values %v, install values %v", values, rel.Values)
	}
}
