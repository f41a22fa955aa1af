package argocd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// records says what argocd-notifications records of deliveries.
const records = "argocd-notifications records a delivery on the Application (annotation " + notify.NotifiedAnnotation + ") while its trigger's condition holds: a failure until the Application recovers, a recovery only briefly; failed deliveries are only in the controller's log and its argocd_notifications_deliveries_total metric"

// Notifications reads the notification targets' last deliveries off the
// Applications (argocd-notifications' annotation).
func (e *Engine) Notifications(ctx context.Context, _ time.Time) *gitops.Notifications {
	c, env, ns := e.d.Kube, e.d.Env, e.Namespace
	n := &gitops.Notifications{Records: records, Targets: []gitops.Delivery{}}
	keys, err := gitops.SecretKeys(ctx, c, ns, notify.ArgoCDSecret)
	if err != nil {
		n.Error = err.Error()
		return n
	}
	ri, err := c.Resource(ApplicationKind, ns)
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
	n.Targets = deliveries(env, keys, items)
	return n
}

// deliveries reads each target's newest delivery off the
// Applications' notified annotations; keys is argocd-notifications-secret's
// (nil when it is missing).
func deliveries(env *spec.Environment, keys map[string]bool, apps []unstructured.Unstructured) []gitops.Delivery {
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
	out := []gitops.Delivery{}
	for _, t := range env.Notifications.Targets {
		d := gitops.Delivery{Target: t.Name, Type: t.Type}
		key := notify.ArgoCDSecretKey(t)
		switch r, ok := newest[t.Name]; {
		case keys == nil:
			d.State, d.Detail = gitops.DeliveryNotApplied, fmt.Sprintf("Secret %s/%s is not in the cluster: run groundwork up with $%s set", env.GitOps.Namespace, notify.ArgoCDSecret, t.URLEnv)
		case !keys[key]:
			d.State, d.Detail = gitops.DeliveryNotApplied, fmt.Sprintf("Secret %s/%s has no %s: run groundwork up with $%s set", env.GitOps.Namespace, notify.ArgoCDSecret, key, t.URLEnv)
		case ok:
			d.State, d.At, d.About = gitops.DeliveryDelivered, r.at, fmt.Sprintf("Application/%s: %s", r.app, r.trigger)
		default:
			d.State = gitops.DeliveryNone
		}
		out = append(out, d)
	}
	return out
}
