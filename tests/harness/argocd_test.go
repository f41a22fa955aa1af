package harness_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

var applicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// TestArgoCD installs the upstream argo-cd chart with Helm, checks that the
// host kubelet runs the real Argo CD programs for its workloads (and the
// chart's redis-secret-init hook Job), and that
// they reconcile an Application (Kustomize source) from the harness's Git
// server with credentials from a repository Secret.
func TestArgoCD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	argo := harness.StartKubelet(t, cp)
	start := time.Now()
	cfg := harness.HelmConfig(t, cp.AdminKubeconfig(), harness.ArgoCDNamespace)
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = harness.ArgoCDChart.Name, harness.ArgoCDNamespace, true
	install.Wait, install.Timeout = true, 3*time.Minute
	if _, err := install.RunWithContext(ctx, harness.LoadUpstreamChart(t, harness.ArgoCDChart), nil); err != nil {
		t.Fatalf("helm install argo-cd: %v", err)
	}
	// The chart's redis-secret-init hook ran the real argocd binary: the
	// Redis password is its.
	if s, err := cp.Client().CoreV1().Secrets(harness.ArgoCDNamespace).Get(ctx, "argocd-redis", metav1.GetOptions{}); err != nil || len(s.Data["auth"]) == 0 {
		t.Fatalf("the redis-secret-init hook made no password (logs in %s): %v", argo.LogDir(), err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer rcancel()
	if err := argo.WaitReady(rctx, argoCDPrograms...); err != nil {
		t.Fatalf("Argo CD not ready: %v", err)
	}
	t.Logf("FIGURE argo-cd chart installed and its programs ready in %s", time.Since(start).Round(time.Millisecond))

	git := harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: "s3cret"})
	url := git.CreateRepo(t, "apps")
	wd := harness.NewGitWorkdir(t, url, git.BasicAuth())
	wd.WriteFile(t, "guestbook/kustomization.yaml", "resources:\n  - cm.yaml\n")
	wd.WriteFile(t, "guestbook/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guestbook\n  namespace: default\ndata:\n  colour: blue\n")
	rev := wd.CommitAndPush(t, "guestbook")

	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	create := func(gvr schema.GroupVersionResource, obj map[string]any) {
		t.Helper()
		u := &unstructured.Unstructured{Object: obj}
		if _, err := dyn.Resource(gvr).Namespace(harness.ArgoCDNamespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	create(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "repo-apps", "labels": map[string]any{"argocd.argoproj.io/secret-type": "repository"}},
		"stringData": map[string]any{"type": "git", "url": url, "username": "git", "password": "s3cret"},
	})
	// argocd-server makes the "default" AppProject when it starts.
	poll(ctx, t, "argocd-server to create the default AppProject", func() error {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}).Namespace(harness.ArgoCDNamespace).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	start = time.Now()
	create(applicationGVR, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "guestbook"},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": url, "targetRevision": "main", "path": "guestbook"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "default"},
			"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}},
		},
	})
	waitApp(ctx, t, dyn, "guestbook", rev)
	cm, err := cp.Client().CoreV1().ConfigMaps("default").Get(ctx, "guestbook", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Application's ConfigMap: %v", err)
	}
	if cm.Data["colour"] != "blue" {
		t.Errorf("colour %q, want blue", cm.Data["colour"])
	}
	t.Logf("FIGURE Application from Git Synced and Healthy in %s", time.Since(start).Round(time.Millisecond))

	// Self-heal: a manual change is reverted.
	start = time.Now()
	if err := cp.Client().CoreV1().ConfigMaps("default").Delete(ctx, "guestbook", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the deleted ConfigMap to come back (self-heal)", func() error {
		_, err := cp.Client().CoreV1().ConfigMaps("default").Get(ctx, "guestbook", metav1.GetOptions{})
		return err
	})
	t.Logf("FIGURE self-heal recreated a deleted ConfigMap in %s", time.Since(start).Round(time.Millisecond))

	for _, name := range argoCDPrograms {
		if !argo.Running(name) {
			t.Errorf("%s stopped", name)
		}
	}
}

// argoCDPrograms are the workloads of the argo-cd chart (release argo-cd)
// the host kubelet runs, under the chart's names: the application
// controller is a StatefulSet. Dex has no binary here; nothing runs behind
// it.
var argoCDPrograms = []string{
	"argo-cd-argocd-application-controller", "argo-cd-argocd-repo-server", "argo-cd-argocd-applicationset-controller",
	"argo-cd-argocd-server", "argo-cd-argocd-notifications-controller", "argo-cd-argocd-redis",
}

func waitApp(ctx context.Context, t *testing.T, dyn dynamic.Interface, name, rev string) {
	t.Helper()
	poll(ctx, t, "Application "+name+" Synced and Healthy at "+rev, func() error {
		u, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		got, _, _ := unstructured.NestedString(u.Object, "status", "sync", "revision")
		if sync != "Synced" || health != "Healthy" || got != rev {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			op, _, _ := unstructured.NestedMap(u.Object, "status", "operationState")
			return fmt.Errorf("sync %q health %q revision %q; conditions %v; operation %v", sync, health, got, conds, op["message"])
		}
		return nil
	})
}

func poll(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
