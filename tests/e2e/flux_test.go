package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// installFluxChart publishes the flux2 chart in a local Helm HTTP repository
// and installs it from there with the Helm SDK (--wait), then waits until
// the supervised controller binaries answer /readyz.
func installFluxChart(ctx context.Context, t *testing.T, cp *harness.ControlPlane, flux *harness.Kubelet) {
	t.Helper()
	cs := cp.Client()
	chartRepo := harness.StartChartRepo(t)
	chartRepo.AddUpstream(t, harness.FluxChart)
	installStart := time.Now()
	helmCfg := harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace)
	install := action.NewInstall(helmCfg)
	install.ReleaseName = "flux2"
	install.Namespace = harness.FluxNamespace
	install.CreateNamespace = true
	install.Wait = true
	install.Timeout = 3 * time.Minute
	install.RepoURL = chartRepo.URL()
	install.Version = harness.FluxChart.Version
	settings := cli.New()
	helmHome := t.TempDir()
	settings.RepositoryConfig = filepath.Join(helmHome, "repositories.yaml")
	settings.RepositoryCache = filepath.Join(helmHome, "cache")
	chartPath, err := install.LocateChart(harness.FluxChart.Name, settings)
	if err != nil {
		t.Fatalf("locating flux2 chart in %s: %v", chartRepo.URL(), err)
	}
	ch, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := install.RunWithContext(ctx, ch, nil)
	if err != nil {
		t.Fatalf("helm install flux2: %v", err)
	}
	t.Logf("helm install %s %s (wait) done in %s, status %s", rel.Chart.Name(), rel.Chart.Metadata.Version, time.Since(installStart).Round(time.Millisecond), rel.Info.Status)
	for _, d := range []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"} {
		dep, err := cs.AppsV1().Deployments(harness.FluxNamespace).Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dep.Status.ReadyReplicas != 1 {
			t.Fatalf("deployment %s: %d ready replicas after helm --wait", d, dep.Status.ReadyReplicas)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	if err := flux.WaitReady(rctx); err != nil {
		t.Fatalf("flux controllers not ready: %v", err)
	}
	rcancel()
	t.Logf("flux controllers ready %s after helm install started", time.Since(installStart).Round(time.Millisecond))
}

// assertControllerRBAC checks that the identity the controllers run as is
// the chart's ServiceAccount, limited by the chart's RBAC: source-controller
// may list Secrets but not Deployments.
func assertControllerRBAC(ctx context.Context, t *testing.T, cp *harness.ControlPlane) {
	t.Helper()
	kc, err := cp.ServiceAccountKubeconfig(ctx, harness.FluxNamespace, "source-controller")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	sc := kubernetes.NewForConfigOrDie(rc)
	if _, err := sc.CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("source-controller SA listing secrets: %v", err)
	}
	if _, err := sc.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("source-controller SA listing deployments: want Forbidden, got %v", err)
	}
}

// TestFluxGitSSH has Flux pull over SSH (identity + known_hosts Secret) from
// the harness SSH Git server.
func TestFluxGitSSH(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	flux := harness.StartKubelet(t, cp)
	installFluxChart(ctx, t, cp, flux)
	cs := cp.Client()
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())

	srv := harness.StartGitSSHServer(t)
	url := srv.CreateRepo(t, "fleet")
	wd := harness.NewGitWorkdir(t, url, srv.GoGitAuth(t))
	writeApps(t, wd, "over-ssh", true)
	commit := wd.CommitAndPush(t, "apps over ssh")
	mustCreateSecret(ctx, t, cs, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-ssh", Namespace: harness.FluxNamespace},
		Data: map[string][]byte{
			"identity":     srv.ClientKeyPEM,
			"identity.pub": srv.ClientPublicKey,
			"known_hosts":  srv.KnownHosts(),
		},
	})
	start := time.Now()
	createFluxObject(ctx, t, dyn, gitRepositoryGVR, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "fleet", "namespace": harness.FluxNamespace},
		"spec": map[string]any{
			"url": url, "interval": "10m", "timeout": "60s",
			"ref":       map[string]any{"branch": "main"},
			"secretRef": map[string]any{"name": "git-ssh"},
		},
	})
	createFluxObject(ctx, t, dyn, kustomizationGVR, map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "apps", "namespace": harness.FluxNamespace},
		"spec": map[string]any{
			"interval": "10m", "retryInterval": "5s", "timeout": "2m", "path": "./apps", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "fleet"},
		},
	})
	waitFor(ctx, t, "commit pulled over ssh and applied", func(ctx context.Context) error {
		if err := kustomizationApplied(ctx, dyn, "apps", commit); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps("smoke").Get(ctx, "greeting", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != "over-ssh" {
			return fmt.Errorf("configmap message %q", cm.Data["message"])
		}
		return nil
	})
	t.Logf("converged over ssh: commit %s applied %s after creating the Flux objects", commit[:8], time.Since(start).Round(time.Millisecond))

	// helm uninstall, after deleting the Flux objects while their
	// controllers still run to remove their finalizers (what flux
	// uninstall does: the chart's CRDs are templates, and uninstalling them
	// with finalized objects left would wait forever): the Deployments go,
	// and so do the host processes.
	for _, gvr := range []schema.GroupVersionResource{kustomizationGVR, gitRepositoryGVR} {
		if err := dyn.Resource(gvr).Namespace(harness.FluxNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(ctx, t, gvr.Resource+" deleted", func(ctx context.Context) error {
			l, err := dyn.Resource(gvr).Namespace(harness.FluxNamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if len(l.Items) > 0 {
				return fmt.Errorf("%d left", len(l.Items))
			}
			return nil
		})
	}
	uninstall := action.NewUninstall(harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace))
	uninstall.Wait = true
	uninstall.Timeout = 2 * time.Minute
	if _, err := uninstall.Run("flux2"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	waitFor(ctx, t, "controllers stopped after uninstall", func(context.Context) error {
		for _, c := range []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"} {
			if flux.Running(c) {
				return fmt.Errorf("%s still running", c)
			}
		}
		return nil
	})
}
