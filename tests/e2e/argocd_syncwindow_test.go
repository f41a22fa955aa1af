package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// syncWindowEnv is argoEnv with a deny sync window whose schedule and
// duration are variables (the default never opens it: 1 January, 00:00).
var syncWindowEnv = strings.Replace(strings.Replace(argoEnv, `      manual   = var.manual
`, `      manual   = var.manual
      window "deny" {
        schedule  = var.deny_schedule
        duration  = "3m"
        time_zone = "UTC"
      }
`, 1), `variable "manual" {`, `variable "deny_schedule" {
  type    = string
  default = "0 0 1 1 *"
}
variable "manual" {`, 1)

// TestArgoCDSyncWindow observes a sync window at runtime on the real
// application controller: with a deny window open (from the spec, through
// the AppProject in Git), a commit to an app is held (the cluster keeps the
// old state while the automated sync policy would have applied it); when
// the window closes, Argo CD syncs it on its own.
func TestArgoCDSyncWindow(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if syncWindowEnv == argoEnv || !strings.Contains(syncWindowEnv, "var.deny_schedule") {
		t.Fatal("argoEnv changed: update syncWindowEnv")
	}
	w := startArgoWorld(t)
	if err := os.WriteFile(w.file, []byte(syncWindowEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := w.g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	wd.WriteFile(t, "clusters/argo/apps/shop/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n")
	wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "teal"))
	rev := wd.CommitAndPush(t, "shop app")
	waitFor(ctx, t, "the shop Application", func(ctx context.Context) error { return applicationReady(ctx, w.dyn, "shop", rev) })

	// Open the deny window now: from the start of this minute, for three
	// minutes (at least two left).
	opened := time.Now().UTC().Truncate(time.Minute)
	closes := opened.Add(3 * time.Minute)
	denied := *w.g
	denied.vars = append(append([]string{}, w.g.vars...), "--var", fmt.Sprintf("deny_schedule=%d %d * * *", opened.Minute(), opened.Hour()))
	if code, _, errOut := denied.up(ctx); code != 0 {
		t.Fatalf("up opening the deny window: exit %d\n%s", code, errOut)
	}
	wd = harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "green"))
	rev = wd.CommitAndPush(t, "shop: green")
	committed := time.Now()
	// Held: longer than the reconciliation timeout and its jitter (20s +
	// 5s), while the window is open.
	hold := 40 * time.Second
	if left := time.Until(closes) - 10*time.Second; left < hold {
		t.Fatalf("the window closes too soon (%s left) to observe the hold: the test's timing is off", time.Until(closes))
	}
	for time.Since(committed) < hold {
		if err := w.configMap("shop", "shop", "colour", "teal")(ctx); err != nil {
			t.Fatalf("the commit was applied during the deny window: %v", err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("held for %s with the deny window open (it closes at %s)", hold, closes.Format(time.TimeOnly))
	// Synced when the window closes.
	wctx, wcancel := context.WithTimeout(ctx, time.Until(closes)+2*time.Minute)
	defer wcancel()
	for {
		if w.configMap("shop", "shop", "colour", "green")(wctx) == nil {
			break
		}
		select {
		case <-wctx.Done():
			t.Fatalf("the commit was not applied after the deny window closed at %s: %v", closes.Format(time.TimeOnly), applicationReady(ctx, w.dyn, "shop", rev))
		case <-time.After(time.Second):
		}
	}
	if at := time.Now().UTC(); at.Before(closes) {
		t.Errorf("applied at %s, before the window closed at %s", at.Format(time.TimeOnly), closes.Format(time.TimeOnly))
	} else {
		t.Logf("FIGURE a commit held by a deny window applied %s after the window closed", at.Sub(closes).Round(time.Second))
	}
}
