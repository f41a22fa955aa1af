package flux

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func event(kind, name, typ, reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "flux-system", Name: name + "." + reason, CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "flux-system", Name: name},
		Type:           typ, Reason: reason, Message: msg,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
	}
}

const slackFailure = `failed to send notification for Kustomization/flux-system/groundwork-apps: postMessage failed: failed to execute request: POST https://hooks.slack.com/services/T000/B000/s3cr3tT0ken giving up after 5 attempt(s)`

// TestFluxDeliveries: notification-controller records failed deliveries
// only (Warning Events on the Alert). The last delivery failed when the
// newest failure is not clearly older than the newest event the Alert
// covers; a target with error severity ignores info events; a target whose
// objects are missing is said so.
func TestFluxDeliveries(t *testing.T) {
	env := spectest.NotifyEnv(spec.EngineFlux)
	now := t0.Add(time.Hour)
	fail := event("Kustomization", "groundwork-apps", corev1.EventTypeWarning, "ReconciliationFailed", "kustomize build failed", t0)
	dispatch := event("Alert", notify.ObjectName(env.Notifications.Targets[0]), corev1.EventTypeWarning, notify.DispatchFailedReason, slackFailure, t0.Add(15*time.Second))
	recovered := event("Kustomization", "groundwork-apps", corev1.EventTypeNormal, "ReconciliationSucceeded", "ConfigMap/shop/config created", t0.Add(20*time.Minute))
	routine := event("Kustomization", "flux-system", corev1.EventTypeNormal, "ReconciliationSucceeded", "Reconciliation finished in 80ms, next run in 1m0s", t0.Add(50*time.Minute))
	unrelated := event("GitRepository", "flux-system", corev1.EventTypeWarning, "GitOperationFailed", "auth failed", t0.Add(55*time.Minute))

	got := gitops.ByTarget(deliveries(env, []corev1.Event{fail, dispatch}, nil, now))
	ops := got["ops"]
	if ops.State != gitops.DeliveryFailed || !ops.At.Equal(t0.Add(15*time.Second)) || ops.About != "Kustomization/groundwork-apps: ReconciliationFailed" {
		t.Fatalf("ops after a failed dispatch: %+v", ops)
	}
	if strings.Contains(ops.Detail, "s3cr3t") || strings.Contains(ops.Detail, "/services/") || !strings.Contains(ops.Detail, "https://hooks.slack.com/<redacted>") {
		t.Fatalf("the failure's message must be shown with the URL cut to its host: %q", ops.Detail)
	}
	if pager := got["pager"]; pager.State != gitops.DeliveryNoFailure || !pager.At.Equal(t0) {
		t.Fatalf("pager (no failure on its Alert): %+v", pager)
	}

	// A later event the Alert covers, beyond the rate limit, with no
	// failure after it; routine messages and other kinds do not count.
	got = gitops.ByTarget(deliveries(env, []corev1.Event{fail, dispatch, recovered, routine, unrelated}, nil, now))
	if ops := got["ops"]; ops.State != gitops.DeliveryNoFailure || !ops.At.Equal(recovered.LastTimestamp.Time) {
		t.Fatalf("ops after the recovery: %+v", ops)
	}
	// pager is sent failures only: the info event is not its.
	if pager := got["pager"]; pager.State != gitops.DeliveryNoFailure || !pager.At.Equal(t0) {
		t.Fatalf("pager, failures only: %+v", pager)
	}

	// The same failure again within the rate limit: notification-controller
	// may not have sent it; the last known outcome is the failure.
	again := fail
	again.LastTimestamp = metav1.NewTime(t0.Add(2 * time.Minute))
	if ops := gitops.ByTarget(deliveries(env, []corev1.Event{again, dispatch}, nil, now))["ops"]; ops.State != gitops.DeliveryFailed {
		t.Fatalf("within the rate limit: %+v", ops)
	}

	got = gitops.ByTarget(deliveries(env, nil, map[string]string{"pager": "Alert flux-system/groundwork-pager is not in the cluster"}, now))
	if got["ops"].State != gitops.DeliveryNone || got["pager"].State != gitops.DeliveryNotApplied || got["pager"].OK() || !got["ops"].OK() {
		t.Fatalf("no events, pager missing: %+v", got)
	}
}
