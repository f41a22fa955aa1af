package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/testutil/awsfake"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// externalSecretsEnv is upEnv with External Secrets in place of SOPS: the
// chart of the External Secrets release the harness builds (0.20.3, with
// its defaults: webhook and cert controller on) from the harness's Helm
// repository, reading AWS Secrets Manager. AWS cannot be reached from the
// tests: the operator's AWS provider is pointed at a local server speaking
// Secrets Manager's protocol (awsfake) through its documented endpoint
// variable, with static credentials.
var externalSecretsEnv = strings.Replace(strings.Replace(upEnv, `  secrets {
    key_store "file" { path = "keys/harness.agekey" }
  }`, `  secrets {
    provider = "external-secrets"
    version  = "0.20.3"
    chart { repository = var.charts }
    values = {
      extraEnv = [
        { name = "AWS_SECRETSMANAGER_ENDPOINT", value = var.secrets_manager },
        { name = "AWS_ACCESS_KEY_ID", value = "AKIDEXAMPLE" },
        { name = "AWS_SECRET_ACCESS_KEY", value = "not-a-real-secret" },
      ]
    }
    external_store "aws-secrets-manager" { region = "eu-west-1" }
  }`, 1), `variable "repo" { type = string }`, `variable "repo" { type = string }
variable "secrets_manager" { type = string }`, 1)

const shopExternalSecret = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
  namespace: shop
spec:
  refreshInterval: 1h
  secretStoreRef:
    kind: ClusterSecretStore
    name: aws-secrets-manager
  target:
    name: db
  data:
    - secretKey: password
      remoteRef:
        key: shop/db
        property: password
`

// TestExternalSecretsComeBack runs External Secrets Operator (controller,
// webhook, cert controller: the real v0.20.4 binary, run by the host
// kubelet from the upstream chart): an ExternalSecret committed to Git
// becomes a Secret holding the value from the store after up, and again
// after a wipe and rebuild; with the store unreachable, status says so.
func TestExternalSecretsComeBack(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if !strings.Contains(externalSecretsEnv, "external-secrets") || !strings.Contains(externalSecretsEnv, `variable "secrets_manager"`) {
		t.Fatal("upEnv changed: update externalSecretsEnv")
	}
	cp := harness.StartControlPlane(t)
	kubelet := harness.StartKubelet(t, cp)
	w := startFluxWorld(t)
	w.charts.Add(t, harness.ExternalSecretsChart.Load(t))
	if err := os.WriteFile(w.file, []byte(externalSecretsEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	sm := awsfake.StartSecretsManager(t)
	sm.Put("shop/db", `{"password":"from-the-store"}`)
	g := w.groundwork(t, cp.AdminKubeconfig())
	g.vars = append(g.vars, "--var", "secrets_manager="+sm.URL())

	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	if err := kubelet.WaitReady(ctx, "external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"); err != nil {
		t.Fatalf("External Secrets does not run (logs in %s): %v", kubelet.LogDir(), err)
	}
	wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	wd.WriteFile(t, "clusters/harness/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop-db.yaml\n")
	wd.WriteFile(t, "clusters/harness/apps/shop-db.yaml", shopExternalSecret)
	wd.CommitAndPush(t, "shop: the database password from Secrets Manager")
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up after the ExternalSecret: exit %d\n%s", code, errOut)
	}
	synced := func(want string) {
		t.Helper()
		waitFor(ctx, t, "Secret shop/db from the store", func(ctx context.Context) error {
			s, err := cp.Client().CoreV1().Secrets("shop").Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("%w (logs in %s; Secrets Manager calls %v)", err, kubelet.LogDir(), sm.Calls())
			}
			if got := string(s.Data["password"]); got != want {
				return fmt.Errorf("password is %q", got)
			}
			return nil
		})
	}
	synced("from-the-store")

	t.Run("store unreachable: status says so", func(t *testing.T) {
		sm.SetDown(true)
		defer sm.SetDown(false)
		dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
		es := dyn.Resource(schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}).Namespace("shop")
		// force-sync: the operator fetches again now rather than in an hour.
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"force-sync":%q}}}`, time.Now().Format(time.RFC3339Nano))
		if _, err := es.Patch(ctx, "db", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		var last string
		waitFor(ctx, t, "status to report the unreachable store", func(ctx context.Context) error {
			code, doc, errOut := g.status(ctx)
			b, _ := json.Marshal(doc["external_secrets"])
			last = fmt.Sprintf("exit %d, external_secrets %s\n%s", code, b, errOut)
			if code == 0 || !strings.Contains(string(b), "shop/db") {
				return fmt.Errorf("%s", last)
			}
			return nil
		})
		t.Logf("status with the store down: %s", last)
		code, out, errOut := g.run(ctx, "status", w.file)
		if code == 0 || !strings.Contains(out+errOut, "shop/db") {
			t.Errorf("status (text) does not name the ExternalSecret that cannot sync: exit %d\n%s%s", code, out, errOut)
		}
	})

	cp.Wipe(t)
	code, out, errOut := g.run(ctx, "rebuild", w.file, "--output", "json")
	if code != 0 {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	var doc cmdup.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	synced("from-the-store")
	t.Logf("FIGURE rebuild with External Secrets: RTO %d ms, Secret back %s later", doc.RTOMS, time.Since(start).Round(time.Millisecond))
}
