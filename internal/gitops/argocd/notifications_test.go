package argocd

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestArgoCDDeliveries reads the newest delivery per target off the
// Applications' notified annotations, and says when the Secret lacks a
// target's URL.
func TestArgoCDDeliveries(t *testing.T) {
	env := spectest.NotifyEnv(spec.EngineArgoCD)
	app := func(name, notified string) unstructured.Unstructured {
		u := unstructured.Unstructured{}
		u.SetName(name)
		if notified != "" {
			u.SetAnnotations(map[string]string{notify.NotifiedAnnotation: notified})
		}
		return u
	}
	at := t0.Unix()
	apps := []unstructured.Unstructured{
		app("shop", `{"groundwork-failure:[1].aBc-_x:ops:":`+itoa(at)+`,"groundwork-failure:[0].zz:pager:":`+itoa(at+5)+`,"on-deployed:[0].q:ops:":`+itoa(at+900)+`}`),
		app("web", `{"argocd:groundwork-recovery:[0].r:ops:":`+itoa(at+60)+`}`),
		app("bare", ""),
		app("junk", "not json"),
	}
	keys := map[string]bool{"ops-url": true, "pager-url": true}
	got := gitops.ByTarget(deliveries(env, keys, apps))
	if ops := got["ops"]; ops.State != gitops.DeliveryDelivered || !ops.At.Equal(t0.Add(time.Minute)) || ops.About != "Application/web: groundwork-recovery" {
		t.Fatalf("ops: %+v", ops)
	}
	if pager := got["pager"]; pager.State != gitops.DeliveryDelivered || pager.About != "Application/shop: groundwork-failure" {
		t.Fatalf("pager: %+v", pager)
	}
	got = gitops.ByTarget(deliveries(env, map[string]bool{"ops-url": true}, nil))
	if got["ops"].State != gitops.DeliveryNone || got["pager"].State != gitops.DeliveryNotApplied || !strings.Contains(got["pager"].Detail, "$PAGER_URL") {
		t.Fatalf("pager's key missing: %+v", got)
	}
	if got := gitops.ByTarget(deliveries(env, nil, nil)); got["ops"].State != gitops.DeliveryNotApplied {
		t.Fatalf("no Secret: %+v", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
