package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/status"
)

// TestWriteNotifications: one line per target, marked ✗ when its last
// delivery failed or the reconciler lacks it, then what the reconciler
// records at all.
func TestWriteNotifications(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := &status.Notifications{Records: "notification-controller records failed deliveries only", Targets: []status.Delivery{
		{Target: "ops", Type: "slack", State: status.DeliveryFailed, At: at, Detail: "failed to send notification: POST https://hooks.slack.com/<redacted> giving up"},
		{Target: "pager", Type: "webhook", State: status.DeliveryNoFailure, At: at, About: "Kustomization/groundwork-apps: ReconciliationFailed"},
		{Target: "audit", Type: "webhook", State: status.DeliveryNotApplied, Detail: "Alert flux-system/groundwork-audit is not in the cluster"},
	}}
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	var b bytes.Buffer
	writeNotifications(&b, n, mark)
	want := `✗ notify      ops (slack): last delivery failed at 2026-03-01 12:00:00Z: failed to send notification: POST https://hooks.slack.com/<redacted> giving up
✓ notify      pager (webhook): no failure recorded for the last event it covers, Kustomization/groundwork-apps: ReconciliationFailed at 2026-03-01 12:00:00Z
✗ notify      audit (webhook): Alert flux-system/groundwork-audit is not in the cluster
    notification-controller records failed deliveries only.
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeNotifications(&b, &status.Notifications{Error: "events: forbidden"}, mark)
	if !strings.HasPrefix(b.String(), "✗ notify      events: forbidden") {
		t.Fatalf("error: %q", b.String())
	}
}
