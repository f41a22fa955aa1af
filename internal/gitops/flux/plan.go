package flux

import (
	"fmt"
	"path"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Plan describes Flux's part of up for plan.
func (e *Engine) Plan() gitops.Plan {
	env, g := e.d.Env, e.d.Env.GitOps
	r := g.Repository
	p := gitops.Plan{
		ReconcilerHow:     "install when the cluster has none, then wait until its workloads are ready; once its HelmRelease in Git took it over, Flux upgrades it",
		AddonsDir:         "groundwork/infrastructure/",
		AddonKind:         "HelmRelease",
		CredentialsSecret: facts.CredentialsSecret,
		Files: []actions.Action{
			{Op: actions.OpCreate, Resource: "groundwork/", Detail: fmt.Sprintf("groundwork's folder: sync objects, Flux itself (chart %s %s, so Flux upgrades itself from Git), and the Kustomizations groundwork-infrastructure, groundwork-secrets and groundwork-apps", g.Chart.Name, g.Version)},
			{Op: actions.OpCreate, Resource: "kustomization.yaml", Detail: "lists groundwork/ and your entry points beside it; in a kustomization.yaml of yours, groundwork only adds its folder"},
			{Op: actions.OpCreate, Resource: "apps/", Detail: "your applications (seeded once, then yours)"},
			{Op: actions.OpCreate, Resource: "secrets/", Detail: "the Secrets groundwork secret set commits, encrypted"},
		},
		Sync: []actions.Action{
			{Op: actions.OpCreate, Resource: "GitRepository " + g.Namespace + "/" + SyncName, Detail: fmt.Sprintf("%s branch %s, every %s", r.URL, r.Branch, spec.FormatDuration(g.Sync.Interval))},
			{Op: actions.OpCreate, Resource: "Kustomization " + g.Namespace + "/" + SyncName, Detail: fmt.Sprintf("path ./%s, prune %t, every %s", r.Path, g.Sync.Prune, spec.FormatDuration(g.Sync.Interval))},
		},
		Wait: []actions.Action{{Op: actions.OpWait, Resource: "every Kustomization and HelmRelease", Detail: fmt.Sprintf("Ready at the seeded revision, at most %s", spec.FormatDuration(g.Sync.Timeout))}},
		NotificationObjects: func(t spec.NotificationTarget) []string {
			return []string{
				fmt.Sprintf("Provider %s/%s (%s)", g.Namespace, notify.ObjectName(t), notify.FluxProviderType(t)),
				fmt.Sprintf("Alert %s/%s (eventSeverity %s)", g.Namespace, notify.ObjectName(t), notify.FluxSeverity(t)),
				fmt.Sprintf("Secret %s/%s (SOPS-encrypted in Git)", g.Namespace, notify.SecretName(t)),
			}
		},
	}
	if n := env.Notifications; n != nil {
		var names []string
		for _, t := range n.Targets {
			names = append(names, t.Name+": "+t.Type)
		}
		p.NotificationFiles = []actions.Action{{Op: actions.OpCreate, Resource: path.Join(r.Path, render.NotificationsDir) + "/",
			Detail: fmt.Sprintf("a Provider and an Alert per notification target (%s), over the Kustomizations and HelmReleases in %s, applied with their Secrets by the Kustomization groundwork-notifications", strings.Join(names, ", "), g.Namespace)}}
		for _, t := range n.Targets {
			p.NotificationFiles = append(p.NotificationFiles, actions.Action{Op: actions.OpCreate,
				Resource: render.NotificationSecretPath(env, t),
				Detail:   fmt.Sprintf("the Secret %s with the webhook URL of %s from $%s, encrypted with SOPS; kept as it is while the URL does not change", notify.SecretName(t), t.Name, t.URLEnv)})
		}
	}
	return p
}
