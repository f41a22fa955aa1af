package status

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/groundwork-dev/groundwork/internal/gitops/argocd"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// What status can say of a notification target's last delivery.
const (
	// DeliveryFailed: the reconciler recorded that its last delivery, as
	// far as any outcome is known, failed (Flux).
	DeliveryFailed = "failed"
	// DeliveryNoFailure: events were sent after the last recorded failure
	// (or there was none) and no failure was recorded for them; Flux
	// records failures only, so this is as close to "delivered" as it says.
	DeliveryNoFailure = "no-failure-recorded"
	// DeliveryDelivered: the reconciler recorded a delivery (Argo CD).
	DeliveryDelivered = "delivered"
	// DeliveryNone: nothing was sent yet, or nothing is recorded any more.
	DeliveryNone = "none-recorded"
	// DeliveryNotApplied: the reconciler does not have the target yet
	// (its objects, or its URL, are missing in the cluster).
	DeliveryNotApplied = "not-applied"
)

// Notifications is what the cluster says of the notification targets.
type Notifications struct {
	Targets []Delivery `json:"targets"`
	// Records says what the reconciler records of deliveries, and so
	// what status can know.
	Records string `json:"records"`
	Error   string `json:"error,omitempty"`
}

// Delivery is one target's last delivery, as the reconciler records it.
// Messages are the reconciler's with every URL cut to its host.
type Delivery struct {
	Target string    `json:"target"`
	Type   string    `json:"type"`
	State  string    `json:"state"`
	At     time.Time `json:"at,omitzero"`
	// About is what the delivery was for: the event or the trigger.
	About string `json:"about,omitempty"`
	// Detail says why it failed, or what is missing.
	Detail string `json:"detail,omitempty"`
}

// OK reports whether nothing says the target's deliveries fail.
func (d Delivery) OK() bool { return d.State != DeliveryFailed && d.State != DeliveryNotApplied }

// Records of each reconciler, for people.
const (
	fluxRecords = "notification-controller records failed deliveries only, as Warning Events on the Alert (kept as long as the cluster keeps Events, an hour by default); a delivery that worked leaves no trace, so status shows the last event the Alert covers and whether a failure was recorded after it"
	argoRecords = "argocd-notifications records a delivery on the Application (annotation " + notify.NotifiedAnnotation + ") while its trigger's condition holds: a failure until the Application recovers, a recovery only briefly; failed deliveries are only in the controller's log and its argocd_notifications_deliveries_total metric"
)

// alertKind is notification-controller's Alert.
var alertKind = schema.GroupVersionKind{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Kind: "Alert"}

// rateLimit is notification-controller's default --rate-limit-interval: an
// event the same as one sent less than this ago is not sent again. With the
// time a send may take, a failure recorded up to this long before an event
// may be that event's (or it was not sent at all).
const rateLimit = 5*time.Minute + 30*time.Second

// notifications reads the targets' delivery records.
func notifications(ctx context.Context, c *kube.Client, env *spec.Environment, now time.Time) *Notifications {
	ns := env.GitOps.Namespace
	if env.GitOps.Engine == spec.EngineArgoCD {
		n := &Notifications{Records: argoRecords, Targets: []Delivery{}}
		keys, err := secretKeys(ctx, c, ns, notify.ArgoCDSecret)
		if err != nil {
			n.Error = err.Error()
			return n
		}
		ri, err := c.Resource(argocd.ApplicationKind, ns)
		if err != nil {
			n.Error = err.Error()
			return n
		}
		apps, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			n.Error = err.Error()
			return n
		}
		var items []unstructured.Unstructured
		if apps != nil {
			items = apps.Items
		}
		n.Targets = argoCDDeliveries(env, keys, items)
		return n
	}
	n := &Notifications{Records: fluxRecords, Targets: []Delivery{}}
	events, err := c.Clientset.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		n.Error = err.Error()
		return n
	}
	missing := map[string]string{}
	for _, t := range env.Notifications.Targets {
		if why := fluxMissing(ctx, c, ns, t); why != "" {
			missing[t.Name] = why
		}
	}
	n.Targets = fluxDeliveries(env, events.Items, missing, now)
	return n
}

// fluxMissing says what of a target the cluster lacks: its Alert, or its
// Secret with the address ("" when both are there).
func fluxMissing(ctx context.Context, c *kube.Client, ns string, t spec.NotificationTarget) string {
	alert := fmt.Sprintf("Alert %s/%s", ns, notify.ObjectName(t))
	ri, err := c.Resource(alertKind, ns)
	if err != nil {
		return alert + " cannot be read: " + err.Error()
	}
	if _, err := ri.Get(ctx, notify.ObjectName(t), metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return alert + " is not in the cluster: the Kustomization groundwork-notifications has not applied it yet"
	} else if err != nil {
		return alert + " cannot be read: " + err.Error()
	}
	keys, err := secretKeys(ctx, c, ns, notify.SecretName(t))
	switch {
	case err != nil:
		return err.Error()
	case keys == nil:
		return fmt.Sprintf("Secret %s/%s is not in the cluster: the Kustomization groundwork-notifications has not applied (or could not decrypt) it", ns, notify.SecretName(t))
	case !keys[notify.AddressKey]:
		return fmt.Sprintf("Secret %s/%s has no %s", ns, notify.SecretName(t), notify.AddressKey)
	}
	return ""
}

// secretKeys lists the keys of a Secret (nil when there is none); the
// values are never read out of it.
func secretKeys(ctx context.Context, c *kube.Client, ns, name string) (map[string]bool, error) {
	s, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", ns, name, err)
	}
	keys := map[string]bool{}
	for k, v := range s.Data {
		keys[k] = len(v) > 0
	}
	for k, v := range s.StringData {
		keys[k] = v != ""
	}
	return keys, nil
}

// fluxDeliveries works out each target's last delivery from the Events of
// the reconciler's namespace: the failures notification-controller
// recorded on the target's Alert, and the events of the objects the Alert
// covers.
func fluxDeliveries(env *spec.Environment, events []corev1.Event, missing map[string]string, now time.Time) []Delivery {
	var exclusions []*regexp.Regexp
	for _, x := range notify.FluxExclusions {
		exclusions = append(exclusions, regexp.MustCompile(x))
	}
	covered := map[string]bool{}
	for _, k := range notify.FluxEventKinds {
		covered[k] = true
	}
	out := []Delivery{}
	for _, t := range env.Notifications.Targets {
		d := Delivery{Target: t.Name, Type: t.Type}
		if why, ok := missing[t.Name]; ok {
			d.State, d.Detail = DeliveryNotApplied, why
			out = append(out, d)
			continue
		}
		var lastFail, lastEvent *corev1.Event
		for i := range events {
			e := &events[i]
			o := e.InvolvedObject
			switch {
			case o.Kind == "Alert" && o.Name == notify.ObjectName(t) && e.Type == corev1.EventTypeWarning:
				if lastFail == nil || eventTime(e).After(eventTime(lastFail)) {
					lastFail = e
				}
			case covered[o.Kind] && (t.Wants(spec.EventRecovery) || e.Type == corev1.EventTypeWarning) && !excluded(e.Message, exclusions):
				if lastEvent == nil || eventTime(e).After(eventTime(lastEvent)) {
					lastEvent = e
				}
			}
		}
		switch {
		case lastFail != nil && (lastEvent == nil || !eventTime(lastEvent).After(eventTime(lastFail).Add(rateLimit))):
			d.State, d.At, d.Detail = DeliveryFailed, eventTime(lastFail), Redact(lastFail.Message)
			if lastEvent != nil {
				d.About = about(lastEvent)
			}
		case lastEvent != nil:
			d.State, d.At, d.About = DeliveryNoFailure, eventTime(lastEvent), about(lastEvent)
			if now.Sub(eventTime(lastEvent)) < 30*time.Second {
				d.Detail = "sent moments ago: a failure would show within the provider's timeout"
			}
		default:
			d.State = DeliveryNone
			d.Detail = "no event the Alert covers is in the cluster's Events"
		}
		out = append(out, d)
	}
	return out
}

func about(e *corev1.Event) string {
	return fmt.Sprintf("%s/%s: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason)
}

func excluded(msg string, exclusions []*regexp.Regexp) bool {
	for _, x := range exclusions {
		if x.MatchString(msg) {
			return true
		}
	}
	return false
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

// argoCDDeliveries reads each target's newest delivery off the
// Applications' notified annotations; keys is argocd-notifications-secret's
// (nil when it is missing).
func argoCDDeliveries(env *spec.Environment, keys map[string]bool, apps []unstructured.Unstructured) []Delivery {
	type record struct {
		at           time.Time
		trigger, app string
	}
	newest := map[string]record{}
	triggers := map[string]bool{notify.FailureTrigger: true, notify.RecoveryTrigger: true}
	for _, a := range apps {
		raw := a.GetAnnotations()[notify.NotifiedAnnotation]
		if raw == "" {
			continue
		}
		var state map[string]int64
		if json.Unmarshal([]byte(raw), &state) != nil {
			continue
		}
		for k, v := range state {
			// [oncePer:][namespace:]trigger:condition:service:recipient
			parts := strings.Split(k, ":")
			if len(parts) < 4 || !triggers[parts[len(parts)-4]] {
				continue
			}
			service := parts[len(parts)-2]
			at := time.Unix(v, 0).UTC()
			if r, ok := newest[service]; !ok || at.After(r.at) {
				newest[service] = record{at: at, trigger: parts[len(parts)-4], app: a.GetName()}
			}
		}
	}
	out := []Delivery{}
	for _, t := range env.Notifications.Targets {
		d := Delivery{Target: t.Name, Type: t.Type}
		key := notify.ArgoCDSecretKey(t)
		switch r, ok := newest[t.Name]; {
		case keys == nil:
			d.State, d.Detail = DeliveryNotApplied, fmt.Sprintf("Secret %s/%s is not in the cluster: run groundwork up with $%s set", env.GitOps.Namespace, notify.ArgoCDSecret, t.URLEnv)
		case !keys[key]:
			d.State, d.Detail = DeliveryNotApplied, fmt.Sprintf("Secret %s/%s has no %s: run groundwork up with $%s set", env.GitOps.Namespace, notify.ArgoCDSecret, key, t.URLEnv)
		case ok:
			d.State, d.At, d.About = DeliveryDelivered, r.at, fmt.Sprintf("Application/%s: %s", r.app, r.trigger)
		default:
			d.State = DeliveryNone
		}
		out = append(out, d)
	}
	return out
}

var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// Redact cuts every URL in a message to its scheme and host: a webhook's
// path and query hold its credential (Slack's token is the path), and
// notification-controller's errors quote the whole URL.
func Redact(msg string) string {
	return urlPattern.ReplaceAllStringFunc(msg, func(s string) string {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "<URL redacted>"
		}
		return u.Scheme + "://" + u.Host + "/<redacted>"
	})
}
