package flux

import (
	"context"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// records says what notification-controller records of deliveries.
const records = "notification-controller records failed deliveries only, as Warning Events on the Alert (kept as long as the cluster keeps Events, an hour by default); a delivery that worked leaves no trace, so status shows the last event the Alert covers and whether a failure was recorded after it"

// alertKind is notification-controller's Alert.
var alertKind = schema.GroupVersionKind{Group: "notification.toolkit.fluxcd.io", Version: "v1beta3", Kind: "Alert"}

// rateLimit is notification-controller's default --rate-limit-interval: an
// event the same as one sent less than this ago is not sent again. With the
// time a send may take, a failure recorded up to this long before an event
// may be that event's (or it was not sent at all).
const rateLimit = 5*time.Minute + 30*time.Second

// Notifications reads the notification targets' last deliveries from the
// Events of Flux's namespace.
func (e *Engine) Notifications(ctx context.Context, now time.Time) *gitops.Notifications {
	c, env, ns := e.d.Kube, e.d.Env, e.Namespace
	n := &gitops.Notifications{Records: records, Targets: []gitops.Delivery{}}
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
	n.Targets = deliveries(env, events.Items, missing, now)
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
	keys, err := gitops.SecretKeys(ctx, c, ns, notify.SecretName(t))
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

// deliveries works out each target's last delivery from the Events of
// the reconciler's namespace: the failures notification-controller
// recorded on the target's Alert, and the events of the objects the Alert
// covers.
func deliveries(env *spec.Environment, events []corev1.Event, missing map[string]string, now time.Time) []gitops.Delivery {
	var exclusions []*regexp.Regexp
	for _, x := range notify.FluxExclusions {
		exclusions = append(exclusions, regexp.MustCompile(x))
	}
	covered := map[string]bool{}
	for _, k := range notify.FluxEventKinds {
		covered[k] = true
	}
	out := []gitops.Delivery{}
	for _, t := range env.Notifications.Targets {
		d := gitops.Delivery{Target: t.Name, Type: t.Type}
		if why, ok := missing[t.Name]; ok {
			d.State, d.Detail = gitops.DeliveryNotApplied, why
			out = append(out, d)
			continue
		}
		var lastFail, lastEvent *corev1.Event
		for i := range events {
			e := &events[i]
			o := e.InvolvedObject
			switch {
			case o.Kind == "Alert" && o.Name == notify.ObjectName(t) && e.Type == corev1.EventTypeWarning:
				if lastFail == nil || kube.EventTime(e).After(kube.EventTime(lastFail)) {
					lastFail = e
				}
			case covered[o.Kind] && (t.Wants(spec.EventRecovery) || e.Type == corev1.EventTypeWarning) && !excluded(e.Message, exclusions):
				if lastEvent == nil || kube.EventTime(e).After(kube.EventTime(lastEvent)) {
					lastEvent = e
				}
			}
		}
		switch {
		case lastFail != nil && (lastEvent == nil || !kube.EventTime(lastEvent).After(kube.EventTime(lastFail).Add(rateLimit))):
			d.State, d.At, d.Detail = gitops.DeliveryFailed, kube.EventTime(lastFail), gitops.Redact(lastFail.Message)
			if lastEvent != nil {
				d.About = about(lastEvent)
			}
		case lastEvent != nil:
			d.State, d.At, d.About = gitops.DeliveryNoFailure, kube.EventTime(lastEvent), about(lastEvent)
			if now.Sub(kube.EventTime(lastEvent)) < 30*time.Second {
				d.Detail = "sent moments ago: a failure would show within the provider's timeout"
			}
		default:
			d.State = gitops.DeliveryNone
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
