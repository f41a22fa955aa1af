package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/drill"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestDrillSealedSecrets: a drill of a Sealed Secrets environment (the
// real controller, its sealing key restored from the key store into the
// scratch cluster's kube-system) unseals the SealedSecret Git declares, and
// the removal takes the sealing key Secret out of kube-system, which was
// there before the drill.
func TestDrillSealedSecrets(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	live := harness.StartControlPlane(t)
	kubelet := harness.StartKubelet(t, live)
	scratch := startFluxCluster(t)
	w := startFluxWorld(t)
	w.charts.Add(t, harness.SealedSecretsChart.Load(t))
	if err := os.WriteFile(w.file, []byte(sealedSecretsEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	g := w.groundwork(t, live.AdminKubeconfig())
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	if err := kubelet.WaitReady(ctx, "sealed-secrets-controller"); err != nil {
		t.Fatalf("the Sealed Secrets controller does not run: %v", err)
	}
	if code, out, errOut := g.run(ctx, "secret", "set", w.file, "shop/db", "password=sealed-for-the-drill"); code != 0 {
		t.Fatalf("secret set: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up after secret set: exit %d\n%s", code, errOut)
	}
	scratchBefore := clusterObjects(ctx, t, scratch)
	head := headOf(t, w.gitSrv)
	code, out, errOut := g.run(ctx, "drill", w.file, "--kubeconfig", scratch.AdminKubeconfig(), "--output", "json")
	if code != 0 {
		t.Fatalf("drill: exit %d\n%s%s", code, out, errOut)
	}
	var rep drill.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE drill of a Sealed Secrets environment: RTO %d ms, removal %d ms", rep.RTOMS, rep.Removal.TookMS)
	if !rep.Passed || !reportHas(rep, "SealedSecret shop/db") {
		t.Errorf("the drill did not show the SealedSecret unsealed:\n%s", out)
	}
	if strings.Contains(out+errOut, "sealed-for-the-drill") {
		t.Error("the drill's output holds the secret's value")
	}
	if after := clusterObjects(ctx, t, scratch); !slices.Equal(after, scratchBefore) {
		t.Errorf("the drill left on the scratch cluster:\n%s", strings.Join(minusStrings(after, scratchBefore), "\n"))
	}
	if rels := helmReleases(t, scratch); len(rels) != 0 {
		t.Errorf("Helm releases left on the scratch cluster: %v", rels)
	}
	if h := headOf(t, w.gitSrv); h != head {
		t.Errorf("the drill committed: %s -> %s", head, h)
	}
}

// TestDrillRefusesClusters: the live cluster, or a cluster that already
// has the reconciler's namespace, is refused before anything is touched.
func TestDrillRefusesClusters(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	live := harness.StartControlPlane(t)
	scratch := harness.StartControlPlane(t)
	w := startFluxWorld(t)
	g := w.groundwork(t, live.AdminKubeconfig())
	// The live cluster: refused by its server, whatever kubeconfig file
	// names it.
	copyKC := filepath.Join(t.TempDir(), "copy.kubeconfig")
	b, err := os.ReadFile(live.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyKC, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := clusterObjects(ctx, t, live)
	code, out, errOut := g.run(ctx, "drill", w.file, "--kubeconfig", copyKC)
	if code != 1 || !strings.Contains(errOut, "layer cluster failed") || !strings.Contains(errOut, "is the environment's own cluster") {
		t.Errorf("drill into the live cluster: exit %d\n%s%s", code, out, errOut)
	}
	if after := clusterObjects(ctx, t, live); !slices.Equal(after, before) {
		t.Errorf("the refused drill touched the live cluster: %v", minusStrings(after, before))
	}
	// A cluster with a reconciler already.
	if _, err := scratch.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before = clusterObjects(ctx, t, scratch)
	code, out, errOut = g.run(ctx, "drill", w.file, "--kubeconfig", scratch.AdminKubeconfig())
	if code != 1 || !strings.Contains(errOut, "already has namespace flux-system") || !strings.Contains(errOut, "nothing was touched") {
		t.Errorf("drill into an occupied cluster: exit %d\n%s%s", code, out, errOut)
	}
	if after := clusterObjects(ctx, t, scratch); !slices.Equal(after, before) {
		t.Errorf("the refused drill touched the cluster: +%v -%v", minusStrings(after, before), minusStrings(before, after))
	}
}
