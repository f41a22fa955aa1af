package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"filippo.io/age"

	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestRebuildAfterWipe is the disaster-recovery proof: up; an app and a
// Secret committed through groundwork; the cluster wiped (fresh empty etcd);
// rebuild brings every object back, the decrypted Secret included, without a
// commit; with the key store emptied, or holding another age key than the
// one Git is encrypted for, rebuild refuses before touching the cluster
// (naming the file and the recipient), and status shows the mismatch; and
// no secret value is in plaintext anywhere in the repository's history, the
// state directory or the output.
func TestRebuildAfterWipe(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	gitSrv, repoURL, dir, file := w.gitSrv, w.repoURL, w.dir, w.file
	g := w.groundwork(t, cp.AdminKubeconfig())
	var outputs strings.Builder // everything groundwork printed, for the leak scan
	const password, apiKey = "correct-horse-battery", "k3y-from-stdin-42"

	if code, doc, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	} else {
		outputs.WriteString(errOut)
		t.Logf("up: %d ms, %s", doc.TookMS, doc.Revision)
	}
	wd := harness.CloneGitWorkdir(t, repoURL, gitSrv.BasicAuth())
	wd.WriteFile(t, "clusters/harness/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n")
	wd.WriteFile(t, "clusters/harness/apps/shop.yaml", fmt.Sprintf(shopApp, "teal"))
	wd.CommitAndPush(t, "shop app")
	for _, kv := range [][2]string{{"password", password}, {"apikey", apiKey}} {
		in := *g
		in.stdin = kv[1]
		code, out, errOut := in.run(ctx, "secret", "set", file, "shop/db", "user=shop", kv[0]+"=-")
		outputs.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("secret set: exit %d\n%s%s", code, out, errOut)
		}
	}
	code, doc, errOut := g.up(ctx)
	outputs.WriteString(errOut)
	if code != 0 {
		t.Fatalf("up after the app: exit %d\n%s", code, errOut)
	}
	assertShop(ctx, t, cp, apiKey)
	head := headOf(t, gitSrv)
	t.Logf("applied %s; wiping the cluster", doc.Revision)

	t.Run("dry run", func(t *testing.T) {
		cp.Wipe(t)
		code, out, errOut := g.run(ctx, "rebuild", file, "--dry-run")
		if code != 0 || !strings.Contains(out, "restore-keys") || !strings.Contains(out, "the Kustomizations Git declares: flux-system, groundwork-apps, groundwork-infrastructure, groundwork-secrets") {
			t.Fatalf("rebuild --dry-run: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := cp.Client().CoreV1().Namespaces().Get(ctx, "flux-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("--dry-run touched the cluster: %v", err)
		}
	})

	t.Run("rebuild after a wipe", func(t *testing.T) {
		start := time.Now()
		code, out, errOut := g.run(ctx, "rebuild", file, "--output", "json")
		outputs.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
		}
		var doc cmdup.Document
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE rebuild after a wipe: RTO %d ms (wall %s)\n%s", doc.RTOMS, time.Since(start).Round(time.Millisecond), errOut)
		for _, s := range doc.Steps {
			t.Logf("FIGURE   %-24s %6d ms  %s", s.Name, s.TookMS, s.State)
		}
		if c := doc.Custody; c == nil || c.State != custody.StateOK || len(c.Decrypted) != 1 {
			t.Errorf("rebuild's key custody: %+v", c)
		} else {
			t.Logf("FIGURE   key custody check in preflight: %d ms (%s)", c.TookMS, c.Summary)
		}
		assertShop(ctx, t, cp, apiKey)
		assertFluxApplied(ctx, t, cp, doc.Revision)
		if h := headOf(t, gitSrv); h != head {
			t.Errorf("rebuild committed: the head moved from %s to %s", head, h)
		}
	})

	t.Run("text output", func(t *testing.T) {
		code, out, errOut := g.run(ctx, "rebuild", file)
		if code != 0 || !strings.Contains(out, "Recovery time: ") || !strings.Contains(out, "restore-keys") {
			t.Errorf("rebuild: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("missing key refused before touching the cluster", func(t *testing.T) {
		key := filepath.Join(dir, "keys", "harness.agekey")
		if err := os.Rename(key, key+".bak"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(key+".bak", key)
		cp.Wipe(t)
		code, out, errOut := g.run(ctx, "rebuild", file)
		if code != 1 || !strings.Contains(errOut, "the age key of environment harness is missing: no key at "+key) || !strings.Contains(errOut, "nothing was touched") {
			t.Fatalf("rebuild without the key: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := cp.Client().CoreV1().Namespaces().Get(ctx, "flux-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("rebuild touched the cluster without its key: %v", err)
		}
	})

	t.Run("a key store with another age key refused before touching the cluster", func(t *testing.T) {
		key := filepath.Join(dir, "keys", "harness.agekey")
		gitHas := recipient(t, dir)
		if err := os.Rename(key, key+".bak"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			os.Remove(key)
			os.Rename(key+".bak", key)
		}()
		other, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		if err := (keys.FileStore{Path: key}).Create(other); err != nil {
			t.Fatal(err)
		}
		cp.Wipe(t)
		start := time.Now()
		code, out, errOut := g.run(ctx, "rebuild", file)
		outputs.WriteString(out + errOut)
		t.Logf("FIGURE rebuild refused for key custody after %s", time.Since(start).Round(time.Millisecond))
		for _, want := range []string{
			"rebuild of harness stopped before touching the cluster: keys and repository: key custody of environment harness",
			"clusters/harness/.sops.yaml: encrypts for age recipient " + gitHas,
			"clusters/harness/secrets/shop/db.yaml: is encrypted for age recipient " + gitHas + " only, not for the key store's key " + other.Recipient().String(),
			"put the age key whose public key is " + gitHas + " back into " + key,
		} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("rebuild with another key: exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
			}
		}
		if _, err := cp.Client().CoreV1().Namespaces().Get(ctx, "flux-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("rebuild touched the cluster with another key: %v", err)
		}
		// status says so too, with the file and the recipient.
		code, out, errOut = g.run(ctx, "status", file, "--output", "json")
		var st struct {
			Custody *custody.Report `json:"custody"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || st.Custody == nil {
			t.Fatalf("status: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		if c := st.Custody; code != 1 || c.State != custody.StateMismatch || !strings.Contains(c.Error, "clusters/harness/secrets/shop/db.yaml: is encrypted for age recipient "+gitHas) {
			t.Errorf("status with another key: exit %d, custody %+v", code, c)
		}
		t.Logf("FIGURE status custody check (clone + decrypt): %d ms", st.Custody.TookMS)
	})

	t.Run("keys rotate, then a rebuild with the new key", func(t *testing.T) {
		if code, out, errOut := g.run(ctx, "rebuild", file); code != 0 {
			t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
		}
		key := filepath.Join(dir, "keys", "harness.agekey")
		oldRecipient := recipient(t, dir)
		start := time.Now()
		code, out, errOut := g.run(ctx, "keys", "rotate", file)
		outputs.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("FIGURE keys rotate (two commits, each applied): %s\n%s%s", time.Since(start).Round(time.Millisecond), out, errOut)
		newRecipient := recipient(t, dir)
		if newRecipient == oldRecipient {
			t.Fatal("the key store still has the old key")
		}
		if retired, _ := filepath.Glob(key + ".retired-*"); len(retired) != 1 {
			t.Errorf("retired keys: %v", retired)
		}
		snap := string(repoSnapshot(t, repoURL, gitSrv, nil))
		if strings.Contains(snap, oldRecipient) || !strings.Contains(snap, newRecipient) {
			t.Errorf("the repository still names the old recipient, or not the new one")
		}
		assertShop(ctx, t, cp, apiKey)
		s, err := cp.Client().CoreV1().Secrets("flux-system").Get(ctx, "sops-age", metav1.GetOptions{})
		if err != nil || len(s.Data) != 1 {
			t.Errorf("the decryption Secret should hold the new key alone: %d entries, %v", len(s.Data), err)
		}
		cp.Wipe(t)
		if code, out, errOut := g.run(ctx, "rebuild", file); code != 0 {
			t.Fatalf("rebuild with the new key: exit %d\n%s%s", code, out, errOut)
		}
		assertShop(ctx, t, cp, apiKey)
	})

	t.Run("no plaintext secret anywhere", func(t *testing.T) {
		hist, err := exec.Command("git", "--git-dir", gitSrv.RepoDir("fleet"), "log", "-p", "--all", "--full-history").CombinedOutput()
		if err != nil {
			t.Fatalf("git log: %v", err)
		}
		if !strings.Contains(string(hist), "ENC[AES256_GCM") {
			t.Fatal("the scan found no encrypted value at all: it is not looking at the right history")
		}
		state := ""
		filepath.Walk(filepath.Join(dir, ".groundwork"), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				b, _ := os.ReadFile(p)
				state += string(b)
			}
			return nil
		})
		for where, text := range map[string]string{"the repository's history": string(hist), "the state directory": state, "groundwork's output": outputs.String()} {
			for _, v := range []string{password, apiKey} {
				if strings.Contains(text, v) {
					t.Errorf("%s holds a secret value in plaintext", where)
				}
			}
		}
	})
}

// assertShop checks the app and the decrypted Secret are in the cluster.
func assertShop(ctx context.Context, t *testing.T, cp *harness.ControlPlane, apiKey string) {
	t.Helper()
	cs := cp.Client()
	if cm, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{}); err != nil || cm.Data["colour"] != "teal" {
		t.Errorf("configmap shop/shop: %v", err)
	}
	if d, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("deployment shop/web: %v", err)
	} else {
		t.Logf("deployment shop/web: %d/%d ready", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
	s, err := cs.CoreV1().Secrets("shop").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Errorf("secret shop/db: %v", err)
		return
	}
	if string(s.Data["apikey"]) != apiKey || string(s.Data["user"]) != "shop" {
		t.Errorf("secret shop/db decrypted wrong: keys %v", len(s.Data))
	}
}
