package harness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestHelmReleaseCRD installs the harness's flux2 chart and checks that the
// API server validates HelmReleases against the real, generated schema: a
// valid one is accepted, one with a wrongly typed field is refused (a
// preserve-unknown-fields stand-in would accept it).
func TestHelmReleaseCRD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	install := action.NewInstall(harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace))
	install.ReleaseName, install.Namespace, install.CreateNamespace = "flux2", harness.FluxNamespace, true
	if _, err := install.RunWithContext(ctx, harness.BuildFluxChart(t), nil); err != nil {
		t.Fatalf("install flux2: %v", err)
	}
	hr := dynamic.NewForConfigOrDie(cp.RESTConfig()).Resource(schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}).Namespace(harness.FluxNamespace)
	obj := func(name string, interval any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{"interval": interval, "chart": map[string]any{"spec": map[string]any{
				"chart": "podinfo", "version": "6.x", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}}},
		}}
	}
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err = hr.Create(ctx, obj("valid", "10m"), metav1.CreateOptions{}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("a valid HelmRelease was refused: %v", err)
	}
	_, err = hr.Create(ctx, obj("invalid", int64(10)), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.interval") {
		t.Fatalf("a HelmRelease with a number for spec.interval was not refused by the schema: %v", err)
	}
}
