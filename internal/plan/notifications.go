package plan

import (
	"fmt"
	"path"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Notification is a notification target as plan shows it: where its URL
// comes from, never the URL.
type Notification struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	URLEnv  string   `json:"url_env"`
	Channel string   `json:"channel,omitempty"`
	On      []string `json:"on"`
	// Objects are what the reconciler is given for the target.
	Objects []string `json:"objects"`
}

// Notifications lists the environment's notification targets (none without
// a notifications block).
func Notifications(env *spec.Environment) []Notification {
	if env.Notifications == nil {
		return nil
	}
	g := env.GitOps
	var out []Notification
	for _, t := range env.Notifications.Targets {
		n := Notification{Name: t.Name, Type: t.Type, URLEnv: t.URLEnv, Channel: t.Channel, On: t.On}
		if g.Engine == spec.EngineArgoCD {
			n.Objects = []string{
				"argocd-notifications service webhook." + t.Name + ", subscribed to " + strings.Join(argoTriggers(t), " and "),
				fmt.Sprintf("key %s of Secret %s/%s", notify.ArgoCDSecretKey(t), g.Namespace, notify.ArgoCDSecret),
			}
		} else {
			n.Objects = []string{
				fmt.Sprintf("Provider %s/%s (%s)", g.Namespace, notify.ObjectName(t), notify.FluxProviderType(t)),
				fmt.Sprintf("Alert %s/%s (eventSeverity %s)", g.Namespace, notify.ObjectName(t), notify.FluxSeverity(t)),
				fmt.Sprintf("Secret %s/%s (SOPS-encrypted in Git)", g.Namespace, notify.SecretName(t)),
			}
		}
		out = append(out, n)
	}
	return out
}

func argoTriggers(t spec.NotificationTarget) []string {
	var out []string
	for _, e := range t.On {
		out = append(out, notify.ArgoCDTrigger(e))
	}
	return out
}

// notificationSeedActions are the seed step's files for the notification
// targets.
func (b *builder) notificationSeedActions() []actions.Action {
	env := b.env
	n := env.Notifications
	if n == nil {
		return nil
	}
	g := env.GitOps
	var names []string
	for _, t := range n.Targets {
		names = append(names, t.Name+": "+t.Type)
	}
	if g.Engine == spec.EngineArgoCD {
		return []actions.Action{{Op: actions.OpCreate, Resource: path.Join(g.Repository.Path, "applications", "argocd.yaml"),
			Detail: fmt.Sprintf("Argo CD's values gain argocd-notifications: a webhook service per target (%s), groundwork's failure and recovery triggers, a subscription per target; the same values as the Helm release", strings.Join(names, ", "))}}
	}
	acts := []actions.Action{{Op: actions.OpCreate, Resource: path.Join(g.Repository.Path, render.NotificationsDir) + "/",
		Detail: fmt.Sprintf("a Provider and an Alert per notification target (%s), over the Kustomizations and HelmReleases in %s, applied with their Secrets by the Kustomization groundwork-notifications", strings.Join(names, ", "), g.Namespace)}}
	for _, t := range n.Targets {
		acts = append(acts, actions.Action{Op: actions.OpCreate,
			Resource: render.NotificationSecretPath(env, t),
			Detail:   fmt.Sprintf("the Secret %s with the webhook URL of %s from $%s, encrypted with SOPS; kept as it is while the URL does not change", notify.SecretName(t), t.Name, t.URLEnv)})
	}
	return acts
}

// notificationSyncActions are the sync step's objects for the targets
// (Argo CD: the Secret with their URLs, which never goes to Git).
func (b *builder) notificationSyncActions() []actions.Action {
	n := b.env.Notifications
	if n == nil {
		return nil
	}
	var from []string
	for _, t := range n.Targets {
		from = append(from, fmt.Sprintf("%s from $%s", t.Name, t.URLEnv))
	}
	return []actions.Action{{Op: actions.OpCreate, Resource: "Secret " + b.env.GitOps.Namespace + "/" + notify.ArgoCDSecret,
		Detail: "the webhook URLs of the notification targets (" + strings.Join(from, ", ") + "); in the cluster only, never in Git"}}
}

// writeNotifications lists the targets under the plan's header.
func writeNotifications(b *strings.Builder, env *spec.Environment) {
	if env.Notifications == nil {
		return
	}
	width := 0
	for _, t := range env.Notifications.Targets {
		width = max(width, len(t.Name))
	}
	for _, t := range env.Notifications.Targets {
		fmt.Fprintf(b, "  notify %-*s  %s\n", width, t.Name, notify.Describe(t))
	}
}
