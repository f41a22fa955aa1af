package up

import (
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The notifications block: what up does for it beyond rendering the
// reconciler's objects. With Flux, each target's webhook URL is read from
// its environment variable and encrypted into the repository (render keeps
// the file as it is while it holds the same URL, which it checks by
// decrypting with the environment's age key). With Argo CD, the URLs go to
// argocd-notifications-secret, applied with the sync objects.

// notificationOptions gives render the targets' webhook URLs and the means
// to compare the repository's encrypted Secrets with them. A missing or
// malformed variable is an error, found before up's first step (its check
// of the repository renders): a URL is needed to write the Secret. Only
// rebuild goes on without a variable whose Secret Git already has.
func (r *Run) notificationOptions(opts *render.Options) error {
	env := r.env()
	if env.Notifications == nil {
		return nil
	}
	urls := map[string]string{}
	for _, t := range env.Notifications.Targets {
		u, err := notify.URL(t, r.opts.Environ)
		var missing *notify.MissingURLError
		if errors.As(err, &missing) && r.rebuildHas(t) {
			r.opts.Logf("notification target %s: $%s is not set; keeping the Secret the repository has", t.Name, t.URLEnv)
			continue
		}
		if err != nil {
			return err
		}
		urls[t.Name] = u
	}
	opts.NotificationURLs = urls
	if id := r.identity; id != nil && env.Secrets.Provider == spec.SecretsSOPS {
		opts.Decrypt = func(enc []byte) ([]byte, error) { return sopsenc.DecryptYAML(enc, id.String()) }
	}
	return nil
}

// rebuildHas reports whether rebuild runs and Git has what the target
// needs that a URL would otherwise make: its encrypted Secret (Flux), or
// nothing (Argo CD keeps no Secret in Git: the sync step leaves
// argocd-notifications-secret alone, and says so).
func (r *Run) rebuildHas(t spec.NotificationTarget) bool {
	if r.snapshot == nil {
		return false
	}
	if r.argoCD() {
		return true
	}
	_, ok := r.snapshot.Files[render.NotificationSecretPath(r.env(), t)]
	return ok
}

// argoCDNotificationSecret is argocd-notifications-secret with the targets'
// URLs (nil without notifications, and on a rebuild that lacks one of
// them: applying it would drop that URL). It carries Helm's ownership of the
// argo-cd release, so that the chart can take it back should the
// notifications block go (the chart then makes a Secret of that name).
func (r *Run) argoCDNotificationSecret() (*unstructured.Unstructured, error) {
	env := r.env()
	if env.Notifications == nil {
		return nil, nil
	}
	var opts render.Options
	if err := r.notificationOptions(&opts); err != nil {
		return nil, err
	}
	if len(opts.NotificationURLs) < len(env.Notifications.Targets) {
		// rebuild without some variable: the Secret the cluster may have
		// stays as it is, rather than lose the URLs not given.
		r.opts.Logf("%s left as it is: run up with every url_env set to write it", notify.ArgoCDSecret)
		return nil, nil
	}
	g := env.GitOps
	s := secret(g.Namespace, notify.ArgoCDSecret, notify.ArgoCDSecretData(env, opts.NotificationURLs))
	rel := ReconcilerRelease(env)
	s.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "argocd"})
	s.SetAnnotations(map[string]string{"meta.helm.sh/release-name": rel.Name, "meta.helm.sh/release-namespace": rel.Namespace})
	return s, nil
}

// ReconcilerValues are the values groundwork installs the reconciler's chart
// with: for Flux, FluxValues; for Argo CD, the notifications of the spec
// (nil without notifications), the values of the Application by which
// Argo CD manages itself, so that the two never disagree.
func ReconcilerValues(env *spec.Environment) map[string]any {
	if env.GitOps.Engine != spec.EngineArgoCD {
		return FluxValues
	}
	return render.ArgoCDValues(env)
}

// FluxValues are the flux2 chart values groundwork installs with, the same
// as its HelmRelease in Git (templates/flux/groundwork/flux.yaml.tmpl)
// declares, so that the HelmRelease taking the release over changes nothing.
// The chart ships its CRDs as templates: without the keep policy,
// uninstalling the release (down --uninstall) would delete them, and with
// them every Flux object in the cluster, the user's included.
var FluxValues = map[string]any{"crds": map[string]any{"annotations": map[string]any{"helm.sh/resource-policy": "keep"}}}
