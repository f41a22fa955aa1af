package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

var (
	gitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
}

// TestSmoke installs the flux2 chart with Helm into a fresh control plane,
// lets the real Flux controllers reconcile commits pushed to the HTTP Git
// server (apply, update, prune, SOPS decryption) and finally wipes the
// cluster.
func TestSmoke(t *testing.T) {
	skipIfShort(t)
	testStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	cp := harness.StartControlPlane(t)
	flux := harness.StartKubelet(t, cp)
	cs := cp.Client()
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())

	// Install the reconciler chart from the local Helm HTTP repository; the
	// host kubelet started by StartKubelet runs the controllers it declares.
	installFluxChart(ctx, t, cp, flux)
	assertControllerRBAC(ctx, t, cp)

	// Git repository with a kustomization; basic auth on the server.
	gitSrv := harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "flux", Password: "git-s3cret"})
	repoURL := gitSrv.CreateRepo(t, "fleet")
	wd := harness.NewGitWorkdir(t, repoURL, gitSrv.BasicAuth())
	writeApps(t, wd, "v1", true)

	age := harness.NewAgeKey(t)
	secret := harness.SopsEncryptYAML(t, age.Recipient, []byte(`apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: smoke
type: Opaque
stringData:
  password: hunter2
`))
	if !strings.Contains(string(secret), "ENC[AES256_GCM") {
		t.Fatalf("sops output is not encrypted:\n%s", secret)
	}
	wd.WriteFile(t, "secrets/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- secret.enc.yaml\n")
	wd.WriteFile(t, "secrets/secret.enc.yaml", string(secret))
	commit := wd.CommitAndPush(t, "initial: namespace, configmap, sops secret")

	mustCreateSecret(ctx, t, cs, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: harness.FluxNamespace},
		StringData: map[string]string{"username": "flux", "password": "git-s3cret"},
	})
	mustCreateSecret(ctx, t, cs, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: harness.FluxNamespace},
		StringData: map[string]string{"identity.agekey": age.Identity},
	})
	pushTime := time.Now()
	createFluxObject(ctx, t, dyn, gitRepositoryGVR, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "fleet", "namespace": harness.FluxNamespace},
		"spec": map[string]any{
			"url": repoURL, "interval": "10m", "timeout": "60s",
			"ref":       map[string]any{"branch": "main"},
			"secretRef": map[string]any{"name": "git-auth"},
		},
	})
	for _, k := range []struct {
		name, path string
		decrypt    bool
	}{{"apps", "./apps", false}, {"secrets", "./secrets", true}} {
		spec := map[string]any{
			"interval": "10m", "retryInterval": "5s", "timeout": "2m", "path": k.path, "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "fleet"},
		}
		if k.decrypt {
			spec["decryption"] = map[string]any{"provider": "sops", "secretRef": map[string]any{"name": "sops-age"}}
		}
		createFluxObject(ctx, t, dyn, kustomizationGVR, map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": k.name, "namespace": harness.FluxNamespace},
			"spec":     spec,
		})
	}
	waitFor(ctx, t, "initial commit applied", func(ctx context.Context) error {
		if err := kustomizationApplied(ctx, dyn, "apps", commit); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps("smoke").Get(ctx, "greeting", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != "v1" {
			return fmt.Errorf("configmap message %q", cm.Data["message"])
		}
		return nil
	})
	t.Logf("converged: initial commit %s applied %s after creating the Flux objects", commit[:8], time.Since(pushTime).Round(time.Millisecond))

	waitFor(ctx, t, "SOPS secret decrypted", func(ctx context.Context) error {
		if err := kustomizationApplied(ctx, dyn, "secrets", commit); err != nil {
			return err
		}
		s, err := cs.CoreV1().Secrets("smoke").Get(ctx, "db-credentials", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(s.Data["password"]) != "hunter2" {
			return fmt.Errorf("secret password %q (not decrypted)", s.Data["password"])
		}
		return nil
	})
	t.Logf("converged: SOPS-encrypted secret decrypted and applied")

	// Change.
	writeApps(t, wd, "v2", true)
	commit = wd.CommitAndPush(t, "change configmap")
	pushTime = time.Now()
	requestReconcile(ctx, t, dyn)
	waitFor(ctx, t, "change applied", func(ctx context.Context) error {
		if err := kustomizationApplied(ctx, dyn, "apps", commit); err != nil {
			return err
		}
		cm, err := cs.CoreV1().ConfigMaps("smoke").Get(ctx, "greeting", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["message"] != "v2" {
			return fmt.Errorf("configmap message %q", cm.Data["message"])
		}
		return nil
	})
	t.Logf("converged: change %s applied %s after push", commit[:8], time.Since(pushTime).Round(time.Millisecond))

	// Deletion → prune.
	writeApps(t, wd, "v2", false)
	commit = wd.CommitAndPush(t, "delete configmap")
	pushTime = time.Now()
	requestReconcile(ctx, t, dyn)
	waitFor(ctx, t, "deletion pruned", func(ctx context.Context) error {
		if err := kustomizationApplied(ctx, dyn, "apps", commit); err != nil {
			return err
		}
		_, err := cs.CoreV1().ConfigMaps("smoke").Get(ctx, "greeting", metav1.GetOptions{})
		if err == nil {
			return fmt.Errorf("configmap smoke/greeting still exists")
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "smoke", metav1.GetOptions{}); err != nil {
			return fmt.Errorf("namespace smoke should still exist: %w", err)
		}
		return nil
	})
	t.Logf("converged: deletion %s pruned %s after push", commit[:8], time.Since(pushTime).Round(time.Millisecond))

	// Wipe: the cluster is lost, a fresh empty one answers on the same address.
	cp.Wipe(t)
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "smoke", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace smoke after wipe: want NotFound, got %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, harness.FluxNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s after wipe: want NotFound, got %v", harness.FluxNamespace, err)
	}
	if _, err := dyn.Resource(gitRepositoryGVR).Namespace(harness.FluxNamespace).List(ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("GitRepository API after wipe: want NotFound (no CRDs), got %v", err)
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("API after wipe: %v", err)
	}
	var names []string
	for _, n := range nss.Items {
		names = append(names, n.Name)
	}
	t.Logf("after wipe the API answers with namespaces %v", names)
	time.Sleep(time.Second) // give the supervisor a sync round
	if flux.Running("source-controller") || flux.Running("kustomize-controller") {
		t.Fatalf("flux controllers still running after wipe")
	}
	t.Logf("smoke test took %s", time.Since(testStart).Round(time.Millisecond))
}

func writeApps(t *testing.T, wd *harness.GitWorkdir, message string, withConfigMap bool) {
	t.Helper()
	resources := "- namespace.yaml\n"
	if withConfigMap {
		resources += "- configmap.yaml\n"
		wd.WriteFile(t, "apps/configmap.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: smoke\ndata:\n  message: %q\n", message))
	} else {
		wd.Remove(t, "apps/configmap.yaml")
	}
	wd.WriteFile(t, "apps/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: smoke\n")
	wd.WriteFile(t, "apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"+resources)
}
