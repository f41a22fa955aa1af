package argocd

import (
	"fmt"
	"path"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Plan describes Argo CD's part of up for plan.
func (e *Engine) Plan() gitops.Plan {
	env, g := e.d.Env, e.d.Env.GitOps
	r := g.Repository
	p := gitops.Plan{
		ReconcilerHow: "install when the cluster has none, then wait until its workloads are ready; once its Application in Git synced it, Argo CD upgrades itself (with manual sync, up upgrades it)",
		// In the chart values: the sync interval as the reconciliation
		// timeout, and argocd-notifications.
		ReconcilerInputs:  []any{g.Sync.Interval, g.Sync.Manual},
		AddonsDir:         "applications/",
		AddonKind:         ApplicationKind.Kind,
		CredentialsSecret: RepositorySecretName(env.Name),
		Files: []actions.Action{
			{Op: actions.OpCreate, Resource: "applications/", Detail: fmt.Sprintf("the root Application (app of apps, managing itself) and one managing Argo CD itself (chart %s %s)", g.Chart.Name, g.Version)},
			{Op: actions.OpCreate, Resource: "apps/", Detail: "an ApplicationSet makes one Application per folder here"},
		},
		Wait: []actions.Action{{Op: actions.OpWait, Resource: "every Application", Detail: fmt.Sprintf("Synced and Healthy at the seeded revision, at most %s", spec.FormatDuration(g.Sync.Timeout))}},
		NotificationObjects: func(t spec.NotificationTarget) []string {
			var triggers []string
			for _, e := range t.On {
				triggers = append(triggers, notify.ArgoCDTrigger(e))
			}
			return []string{
				"argocd-notifications service webhook." + t.Name + ", subscribed to " + strings.Join(triggers, " and "),
				fmt.Sprintf("key %s of Secret %s/%s", notify.ArgoCDSecretKey(t), g.Namespace, notify.ArgoCDSecret),
			}
		},
	}
	if n := env.Notifications; n != nil {
		p.ReconcilerInputs = append(p.ReconcilerInputs, n)
		p.SyncInputs = append(p.SyncInputs, n)
		var names []string
		for _, t := range n.Targets {
			names = append(names, t.Name+": "+t.Type)
		}
		p.NotificationFiles = []actions.Action{{Op: actions.OpCreate, Resource: path.Join(r.Path, SelfFile),
			Detail: fmt.Sprintf("Argo CD's values gain argocd-notifications: a webhook service per target (%s), groundwork's failure and recovery triggers, a subscription per target; the same values as the Helm release", strings.Join(names, ", "))}}
		var from []string
		for _, t := range n.Targets {
			from = append(from, fmt.Sprintf("%s from $%s", t.Name, t.URLEnv))
		}
		p.Sync = append(p.Sync, actions.Action{Op: actions.OpCreate, Resource: "Secret " + g.Namespace + "/" + notify.ArgoCDSecret,
			Detail: "the webhook URLs of the notification targets (" + strings.Join(from, ", ") + "); in the cluster only, never in Git"})
	}
	p.Sync = append(p.Sync, actions.Action{Op: actions.OpCreate, Resource: "Application " + g.Namespace + "/" + facts.RootApplication(env),
		Detail: fmt.Sprintf("app of apps from %s@%s path %s, automated sync", r.URL, r.Branch, r.Path)})
	return p
}
