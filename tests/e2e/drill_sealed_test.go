package e2e

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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
