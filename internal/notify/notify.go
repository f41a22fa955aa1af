package notify

import (
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Flux's objects for a target.
const (
	// AddressKey is the key of a target's Secret that holds its URL
	// (notification-controller reads the Provider's address from it).
	AddressKey = "address"
	// FluxAPIVersion is the notification-controller API groundwork
	// declares Providers and Alerts with.
	FluxAPIVersion = "notification.toolkit.fluxcd.io/v1beta3"
	// DispatchFailedReason is the reason of the Warning Event
	// notification-controller records on an Alert when it could not send
	// an event to the Alert's Provider.
	DispatchFailedReason = "NotificationDispatchFailed"
)

// ObjectName names a target's Provider and Alert (Flux).
func ObjectName(t spec.NotificationTarget) string { return "groundwork-" + t.Name }

// SecretName names the Secret holding a target's URL (Flux).
func SecretName(t spec.NotificationTarget) string { return "groundwork-notification-" + t.Name }

// FluxProviderType is the Provider type of a target: slack, or generic
// (the event as JSON) for a webhook.
func FluxProviderType(t spec.NotificationTarget) string {
	if t.Type == spec.NotifySlack {
		return "slack"
	}
	return "generic"
}

// FluxSeverity is the Alert's eventSeverity for a target: info lets every
// event through, recoveries included; error only failures.
func FluxSeverity(t spec.NotificationTarget) string {
	if t.Wants(spec.EventRecovery) {
		return "info"
	}
	return "error"
}

// FluxEventKinds are the kinds of the objects a target's Alert covers, in
// the reconciler's namespace.
var FluxEventKinds = []string{"Kustomization", "HelmRelease"}

// FluxExclusions are the messages an Alert leaves out: neither failures
// nor recoveries, but routine info events Flux sends on every reconcile (the
// Slack notifier drops the first itself; a generic webhook would get one a
// minute per Kustomization).
var FluxExclusions = []string{
	`^Reconciliation finished in .*, next run in .*$`,
	`^Dependencies do not meet ready condition`,
}

// MissingURLError says a target's environment variable is not set.
type MissingURLError struct {
	Target, Variable string
}

func (e *MissingURLError) Error() string {
	return fmt.Sprintf("notification target %q: the environment variable %s (url_env) is not set or empty; export the webhook URL in it", e.Target, e.Variable)
}

// InvalidURLError says a target's environment variable holds no http(s)
// URL. It never includes the value, which may be a credential even when
// malformed.
type InvalidURLError struct {
	Target, Variable string
}

func (e *InvalidURLError) Error() string {
	return fmt.Sprintf("notification target %q: the environment variable %s (url_env) does not hold an http:// or https:// URL with a host", e.Target, e.Variable)
}

// URL reads a target's webhook URL from environ (KEY=value entries).
func URL(t spec.NotificationTarget, environ []string) (string, error) {
	var v string
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == t.URLEnv {
			v = strings.TrimSpace(val)
		}
	}
	if v == "" {
		return "", &MissingURLError{Target: t.Name, Variable: t.URLEnv}
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &InvalidURLError{Target: t.Name, Variable: t.URLEnv}
	}
	return v, nil
}

// URLs reads every target's webhook URL, by target name; the first target
// whose variable is missing or malformed is an error.
func URLs(env *spec.Environment, environ []string) (map[string]string, error) {
	if env.Notifications == nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range env.Notifications.Targets {
		u, err := URL(t, environ)
		if err != nil {
			return nil, err
		}
		out[t.Name] = u
	}
	return out, nil
}

// FluxSecret is the plaintext manifest of the Secret holding a target's
// URL, in the reconciler's namespace: what groundwork encrypts into the
// repository. The caller keeps it in memory only.
func FluxSecret(namespace string, t spec.NotificationTarget, address string) []byte {
	s := corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SecretName(t),
			Labels: map[string]string{"app.kubernetes.io/managed-by": "groundwork"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{AddressKey: []byte(address)},
	}
	b, err := yaml.Marshal(s)
	if err != nil {
		panic(err) // a Secret always marshals
	}
	return []byte(strings.Replace(string(b), "  creationTimestamp: null\n", "", 1))
}

// Describe says, for people, what a target is sent and where its URL
// comes from; never the URL.
func Describe(t spec.NotificationTarget) string {
	what := "Slack incoming webhook"
	if t.Type == spec.NotifyWebhook {
		what = "webhook (JSON)"
	}
	if t.Channel != "" {
		what += " to " + t.Channel
	}
	return fmt.Sprintf("%s, URL from $%s; on %s", what, t.URLEnv, strings.Join(t.On, " and "))
}
