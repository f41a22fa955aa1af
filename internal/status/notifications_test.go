package status

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func notifyEnv(engine string) *spec.Environment {
	env := &spec.Environment{Name: "dev", GitOps: spec.GitOps{Engine: engine, Namespace: "flux-system"}}
	if engine == spec.EngineArgoCD {
		env.GitOps.Namespace = "argocd"
	}
	env.Notifications = &spec.Notifications{Targets: []spec.NotificationTarget{
		{Name: "ops", Type: spec.NotifySlack, URLEnv: "SLACK_WEBHOOK_URL", On: []string{spec.EventFailure, spec.EventRecovery}},
		{Name: "pager", Type: spec.NotifyWebhook, URLEnv: "PAGER_URL", On: []string{spec.EventFailure}},
	}}
	return env
}

func event(kind, name, typ, reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "flux-system", Name: name + "." + reason, CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "flux-system", Name: name},
		Type:           typ, Reason: reason, Message: msg,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
	}
}

const slackFailure = `failed to send notification for Kustomization/flux-system/groundwork-apps: postMessage failed: failed to execute request: POST https://hooks.slack.com/services/T000/B000/s3cr3tT0ken giving up after 5 attempt(s)`

func byTarget(ds []Delivery) map[string]Delivery {
	out := map[string]Delivery{}
	for _, d := range ds {
		out[d.Target] = d
	}
	return out
}

// TestFluxDeliveries: notification-controller records failed deliveries
// only (Warning Events on the Alert). The last delivery failed when the
// newest failure is not clearly older than the newest event the Alert
// covers; a target with error severity ignores info events; a target whose
// objects are missing is said so.
func TestFluxDeliveries(t *testing.T) {
	env := notifyEnv(spec.EngineFlux)
	now := t0.Add(time.Hour)
	fail := event("Kustomization", "groundwork-apps", corev1.EventTypeWarning, "ReconciliationFailed", "kustomize build failed", t0)
	dispatch := event("Alert", notify.ObjectName(env.Notifications.Targets[0]), corev1.EventTypeWarning, notify.DispatchFailedReason, slackFailure, t0.Add(15*time.Second))
	recovered := event("Kustomization", "groundwork-apps", corev1.EventTypeNormal, "ReconciliationSucceeded", "ConfigMap/shop/config created", t0.Add(20*time.Minute))
	routine := event("Kustomization", "flux-system", corev1.EventTypeNormal, "ReconciliationSucceeded", "Reconciliation finished in 80ms, next run in 1m0s", t0.Add(50*time.Minute))
	unrelated := event("GitRepository", "flux-system", corev1.EventTypeWarning, "GitOperationFailed", "auth failed", t0.Add(55*time.Minute))

	got := byTarget(fluxDeliveries(env, []corev1.Event{fail, dispatch}, nil, now))
	ops := got["ops"]
	if ops.State != DeliveryFailed || !ops.At.Equal(t0.Add(15*time.Second)) || ops.About != "Kustomization/groundwork-apps: ReconciliationFailed" {
		t.Fatalf("ops after a failed dispatch: %+v", ops)
	}
	if strings.Contains(ops.Detail, "s3cr3t") || strings.Contains(ops.Detail, "/services/") || !strings.Contains(ops.Detail, "https://hooks.slack.com/<redacted>") {
		t.Fatalf("the failure's message must be shown with the URL cut to its host: %q", ops.Detail)
	}
	if pager := got["pager"]; pager.State != DeliveryNoFailure || !pager.At.Equal(t0) {
		t.Fatalf("pager (no failure on its Alert): %+v", pager)
	}

	// A later event the Alert covers, beyond the rate limit, with no
	// failure after it; routine messages and other kinds do not count.
	got = byTarget(fluxDeliveries(env, []corev1.Event{fail, dispatch, recovered, routine, unrelated}, nil, now))
	if ops := got["ops"]; ops.State != DeliveryNoFailure || !ops.At.Equal(recovered.LastTimestamp.Time) {
		t.Fatalf("ops after the recovery: %+v", ops)
	}
	// pager is sent failures only: the info event is not its.
	if pager := got["pager"]; pager.State != DeliveryNoFailure || !pager.At.Equal(t0) {
		t.Fatalf("pager, failures only: %+v", pager)
	}

	// The same failure again within the rate limit: notification-controller
	// may not have sent it; the last known outcome is the failure.
	again := fail
	again.LastTimestamp = metav1.NewTime(t0.Add(2 * time.Minute))
	if ops := byTarget(fluxDeliveries(env, []corev1.Event{again, dispatch}, nil, now))["ops"]; ops.State != DeliveryFailed {
		t.Fatalf("within the rate limit: %+v", ops)
	}

	got = byTarget(fluxDeliveries(env, nil, map[string]string{"pager": "Alert flux-system/groundwork-pager is not in the cluster"}, now))
	if got["ops"].State != DeliveryNone || got["pager"].State != DeliveryNotApplied || got["pager"].OK() || !got["ops"].OK() {
		t.Fatalf("no events, pager missing: %+v", got)
	}
}

// TestArgoCDDeliveries reads the newest delivery per target off the
// Applications' notified annotations, and says when the Secret lacks a
// target's URL.
func TestArgoCDDeliveries(t *testing.T) {
	env := notifyEnv(spec.EngineArgoCD)
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
	got := byTarget(argoCDDeliveries(env, keys, apps))
	if ops := got["ops"]; ops.State != DeliveryDelivered || !ops.At.Equal(t0.Add(time.Minute)) || ops.About != "Application/web: groundwork-recovery" {
		t.Fatalf("ops: %+v", ops)
	}
	if pager := got["pager"]; pager.State != DeliveryDelivered || pager.About != "Application/shop: groundwork-failure" {
		t.Fatalf("pager: %+v", pager)
	}
	got = byTarget(argoCDDeliveries(env, map[string]bool{"ops-url": true}, nil))
	if got["ops"].State != DeliveryNone || got["pager"].State != DeliveryNotApplied || !strings.Contains(got["pager"].Detail, "$PAGER_URL") {
		t.Fatalf("pager's key missing: %+v", got)
	}
	if got := byTarget(argoCDDeliveries(env, nil, nil)); got["ops"].State != DeliveryNotApplied {
		t.Fatalf("no Secret: %+v", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRedact(t *testing.T) {
	cases := map[string]string{
		`Post "https://hooks.slack.com/services/T0/B0/XyZ": dial tcp: i/o timeout`: `Post "https://hooks.slack.com/<redacted>": dial tcp: i/o timeout`,
		`POST http://user:pass@10.0.0.1:8080/hook?token=abc giving up`:             `POST http://10.0.0.1:8080/<redacted> giving up`,
		`no URL here`: `no URL here`,
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
