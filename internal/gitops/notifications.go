package gitops

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/groundwork-dev/groundwork/internal/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What groundwork can say of a notification target's last delivery.
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

// SecretKeys lists the keys of a Secret (nil when there is none); the
// values are never read out of it.
func SecretKeys(ctx context.Context, c *kube.Client, ns, name string) (map[string]bool, error) {
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

var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// ByTarget keys deliveries by their target's name.
func ByTarget(ds []Delivery) map[string]Delivery {
	out := map[string]Delivery{}
	for _, d := range ds {
		out[d.Target] = d
	}
	return out
}
