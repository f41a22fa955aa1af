package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestEphemeralInstancesAndGC creates two instances of an ephemeral
// environment in parallel, each on its own cluster, on the same repository:
// both converge in folders of their own; once their time-to-live has
// passed, gc deletes both, their folders in the repository included.
func TestEphemeralInstancesAndGC(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	w := startFluxWorld(t)
	gitSrv, repoURL, dir, file := w.gitSrv, w.repoURL, w.dir, w.file
	clusters := map[string]*harness.ControlPlane{}
	for _, s := range []string{"a", "b"} {
		clusters[s] = startFluxCluster(t)
	}

	var wg sync.WaitGroup
	results := map[string]string{}
	var latest time.Time
	var mu sync.Mutex
	for s, cp := range clusters {
		wg.Add(1)
		go func(s string, cp *harness.ControlPlane) {
			defer wg.Done()
			g := w.groundwork(t, cp.AdminKubeconfig())
			code, doc, errOut := g.up(ctx, "--ephemeral", "--ttl", "60s", "--name-suffix", s)
			mu.Lock()
			defer mu.Unlock()
			if code != 0 {
				results[s] = errOut
				return
			}
			if doc.Environment != "harness-"+s || doc.Expires == nil || doc.Revision == "" || doc.Kubeconfig == "" || doc.Server == "" {
				results[s] = "incomplete JSON document"
				return
			}
			if doc.Expires.After(latest) {
				latest = *doc.Expires
			}
		}(s, cp)
	}
	wg.Wait()
	for s, e := range results {
		t.Errorf("instance %s: %s", s, e)
	}
	files := snapshotFiles(t, repoURL, gitSrv)
	for s, cp := range clusters {
		if !strings.Contains(files, "clusters/harness-"+s+"/groundwork/sync.yaml") {
			t.Errorf("no folder for instance %s:\n%s", s, files)
		}
		cm, err := cp.Client().CoreV1().ConfigMaps(facts.ExpiryNamespace).Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{})
		if err != nil || cm.Data["environment"] != "harness-"+s || cm.Data["path"] != "clusters/harness-"+s {
			t.Errorf("instance %s records %v %v", s, cm, err)
		}
	}

	g := w.groundwork(t, "unused")
	code, out, errOut := g.run(ctx, "gc", file, "--dry-run")
	if code != 0 || strings.Count(out, "kept: expires") != 2 {
		t.Fatalf("gc before the expiry: exit %d\n%s%s", code, out, errOut)
	}
	time.Sleep(time.Until(latest) + time.Second)
	code, out, errOut = g.run(ctx, "gc", file, "--dry-run")
	if code != 0 || strings.Count(out, "would delete") != 2 {
		t.Fatalf("gc --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = g.run(ctx, "gc", file)
	if code != 0 || strings.Count(out, "deleted") != 2 {
		t.Fatalf("gc: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("gc:\n%s%s", out, errOut)
	if files := snapshotFiles(t, repoURL, gitSrv); strings.Contains(files, "clusters/harness-") {
		t.Errorf("instance folders left in the repository:\n%s", files)
	}
	if dirs, _ := filepath.Glob(filepath.Join(dir, ".groundwork", "harness-*")); len(dirs) != 0 {
		t.Errorf("state left: %v", dirs)
	}

	// An instance whose up fails midway (here: the CI job's time runs out
	// in the middle of the reconciler's install) names itself first,
	// advises resuming with its suffix, and is found by gc. On an existing
	// cluster gc cannot tell the reconciler that up was installing from one
	// that was there before, so it keeps the instance, saying how to remove
	// it; that advice works.
	gc := w.groundwork(t, clusters["a"].AdminKubeconfig())
	code, _, errOut = gc.up(ctx, "--ephemeral", "--ttl", "20s", "--name-suffix", "c", "--timeout", "4s")
	if code == 0 {
		t.Fatalf("up with --timeout 4s finished: the test needs it to fail midway\n%s", errOut)
	}
	if first, _, _ := strings.Cut(errOut, "\n"); !strings.Contains(first, "Instance harness-c of harness: name it with --name-suffix c") {
		t.Errorf("the instance is not named first:\n%s", errOut)
	}
	if !strings.Contains(errOut, "--ephemeral --ttl 20s --name-suffix c again: it resumes") {
		t.Errorf("the resume advice does not name the instance:\n%s", errOut)
	}
	advice := "groundwork down " + file + " --name-suffix c --uninstall --purge-repo"
	code, out, errOut = g.run(ctx, "gc", file, "--dry-run")
	if code != 0 || !strings.Contains(out, "harness-c") || !strings.Contains(out, "kept: its up did not finish on an existing cluster") || !strings.Contains(out, advice) {
		t.Fatalf("gc does not find the failed instance, or does not say how to remove it: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = gc.run(ctx, "down", file, "--name-suffix", "c", "--uninstall", "--purge-repo", "--yes")
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", advice, code, out, errOut)
	}
	if dirs, _ := filepath.Glob(filepath.Join(dir, ".groundwork", "harness-*")); len(dirs) != 0 {
		t.Errorf("state of the failed instance left: %v", dirs)
	}
	if rel, err := clusters["a"].Client().CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"}); err != nil || len(rel.Items) != 0 {
		t.Errorf("down left Helm releases of the failed instance: %v", err)
	}
}
