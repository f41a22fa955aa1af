package harness

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
)

// TestKubeletRunsExternalSecrets installs External Secrets' chart with its
// defaults (webhook and cert controller on) and proves the three programs
// run: the cert controller writes the webhook's certificate into the Secret
// the webhook mounts and injects its CA into the webhook configurations,
// and the API server reaches the webhook at its Service's ClusterIP (the
// host kubelet's proxy): an invalid SecretStore is refused by the webhook
// itself, a valid one is admitted.
func TestKubeletRunsExternalSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the harness")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cp := StartControlPlane(t)
	k := StartKubelet(t, cp)
	ch := ExternalSecretsChart.Load(t)
	install := action.NewInstall(HelmConfig(t, cp.AdminKubeconfig(), "external-secrets"))
	install.ReleaseName, install.Namespace, install.CreateNamespace = "external-secrets", "external-secrets", true
	install.Wait, install.Timeout = true, 3*time.Minute
	if _, err := install.RunWithContext(ctx, ch, map[string]any{"installCRDs": true}); err != nil {
		t.Fatalf("installing %s: %v", ch.Metadata.Version, err)
	}
	names := []string{"external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"}
	if err := k.WaitReady(ctx, names...); err != nil {
		t.Fatalf("External Secrets' programs are not ready (logs in %s): %v", k.LogDir(), err)
	}
	vwc, err := cp.Client().AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "secretstore-validate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vwc.Webhooks) == 0 || len(vwc.Webhooks[0].ClientConfig.CABundle) == 0 {
		t.Fatalf("the cert controller injected no CA into %s", vwc.Name)
	}
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	stores := dyn.Resource(schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "secretstores"}).Namespace("default")
	store := func(name string, provider map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"provider": provider},
		}}
	}
	// A region that is no host name passes the CRD schema (a string); only
	// the webhook (the AWS provider's ValidateStore) refuses it.
	bad := store("bad-region", map[string]any{
		"aws": map[string]any{"service": "SecretsManager", "region": "not a region!"},
	})
	var lastErr error
	err = pollUntil(ctx, time.Second, func(ctx context.Context) (bool, error) {
		_, err := stores.Create(ctx, bad, metav1.CreateOptions{})
		if err == nil {
			_ = stores.Delete(ctx, bad.GetName(), metav1.DeleteOptions{})
			t.Fatalf("a SecretStore with an invalid region was admitted: the webhook did not run")
		}
		if lastErr == nil || lastErr.Error() != err.Error() {
			t.Logf("creating the store: %v", err)
		}
		lastErr = err
		// Until the webhook serves, the API server says it failed to call it.
		return strings.Contains(err.Error(), "denied the request"), nil
	})
	if err != nil {
		t.Fatalf("the webhook never answered (logs in %s): last %v", k.LogDir(), lastErr)
	}
	t.Logf("the webhook refused the store: %v", lastErr)
	if _, err := stores.Create(ctx, store("fake", map[string]any{"fake": map[string]any{"data": []any{map[string]any{"key": "k", "value": "v"}}}}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a valid SecretStore was refused: %v", err)
	}
}

// TestKubeletRunsSealedSecrets installs the Sealed Secrets chart and proves
// its controller runs on the host as in a pod: it reads its identity only
// the in-cluster way (the ServiceAccount token folder, mounted in a mount
// namespace of its own) and, finding no key, makes one through the API.
func TestKubeletRunsSealedSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the harness")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cp := StartControlPlane(t)
	k := StartKubelet(t, cp)
	install := action.NewInstall(HelmConfig(t, cp.AdminKubeconfig(), "kube-system"))
	install.ReleaseName, install.Namespace = "sealed-secrets", "kube-system"
	install.Wait, install.Timeout = true, 3*time.Minute
	if _, err := install.RunWithContext(ctx, SealedSecretsChart.Load(t), map[string]any{"fullnameOverride": "sealed-secrets-controller"}); err != nil {
		t.Fatal(err)
	}
	if err := k.WaitReady(ctx, "sealed-secrets-controller"); err != nil {
		t.Fatalf("the controller is not ready (logs in %s): %v", k.LogDir(), err)
	}
	err := pollUntil(ctx, time.Second, func(ctx context.Context) (bool, error) {
		l, err := cp.Client().CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "sealedsecrets.bitnami.com/sealed-secrets-key=active"})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 1, nil
	})
	if err != nil {
		t.Fatalf("the controller made no sealing key (logs in %s): %v", k.LogDir(), err)
	}
}
