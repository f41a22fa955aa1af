package up

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/argocd"
	"github.com/groundwork-dev/groundwork/internal/flux"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
)

// Who owns Flux's own release.
//
// groundwork installs the flux2 chart with the Helm SDK once, when the
// cluster has no such release (first up, rebuild after a wipe): nothing
// else can, since helm-controller is part of that chart. From then on the
// HelmRelease groundwork commits (groundwork/flux.yaml) owns the release:
// helm-controller adopts it (one upgrade, which labels its objects) and
// performs every later upgrade, when a gitops.version bump reaches Git. up
// never upgrades a release Flux owns: two owners of one release would fight,
// with Helm revisions climbing on every reconcile.

// fluxOwnsReconciler reports whether the reconciler's release is in Flux's
// hands: its HelmRelease exists, is not suspended and helm-controller has
// acted on it (status.history). It says why, for the log.
func (r *Run) fluxOwnsReconciler(ctx context.Context) (bool, string, error) {
	rel := ReconcilerRelease(r.env())
	ri, err := r.kube.Resource(flux.HelmReleaseKind, rel.Namespace)
	switch {
	case meta.IsNoMatchError(err):
		return false, "", nil // the kind is not served: Flux is not installed
	case err != nil:
		// Unknown is not "absent": upgrading a release Flux may own would
		// make it two owners.
		return false, "", err
	}
	hr, err := ri.Get(ctx, rel.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("read HelmRelease %s/%s: %w", rel.Namespace, rel.Name, err)
	}
	if suspended, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); suspended {
		r.opts.Logf("HelmRelease %s/%s is suspended: up manages the release with Helm", rel.Namespace, rel.Name)
		return false, "", nil
	}
	if hr.GetDeletionTimestamp() != nil {
		return false, "", nil // on its way out
	}
	if name, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName"); name != "" && name != rel.Name {
		return false, "", nil
	}
	history, _, _ := unstructured.NestedSlice(hr.Object, "status", "history")
	if len(history) == 0 {
		return false, "", nil
	}
	// The release it took over must still be there: with the release
	// gone (its storage lost, uninstalled by hand) there is nothing of
	// Flux's to leave alone, and up installs it again.
	if current, err := r.storedRelease(rel); err != nil || current == nil {
		return false, "", err
	}
	latest, _ := history[0].(map[string]any)
	version, _ := latest["chartVersion"].(string)
	why := fmt.Sprintf("release %s/%s is Flux's: HelmRelease %s/%s (revision %v, chart %s) upgrades it from Git", rel.Namespace, rel.Name, rel.Namespace, rel.Name, latest["version"], version)
	if version != rel.Version {
		why += fmt.Sprintf("; %s reaches it when the seed step commits it", rel.Version)
	}
	return true, why, nil
}

// Who owns Argo CD's own release.
//
// groundwork installs the argo-cd chart with the Helm SDK when the cluster
// has no such release (first up, rebuild after a wipe). From then on the
// Application by which Argo CD manages itself (applications/argocd.yaml,
// automated sync) owns its objects: Argo CD renders the chart version Git
// declares and applies it, without Helm. up then leaves the release alone:
// a Helm upgrade of objects Argo CD syncs would be a second owner, and the
// Helm release would record versions Git never declared. The release stays
// at the revision groundwork installed; Git holds the version.

// argoCDOwnsReconciler reports whether Argo CD manages its own
// installation: the Application of Argo CD in Git exists in the cluster,
// syncs automatically, is not being deleted and has synced at least once,
// and the Helm release groundwork installed is there. It says why, for the
// log.
func (r *Run) argoCDOwnsReconciler(ctx context.Context) (bool, string, error) {
	rel := ReconcilerRelease(r.env())
	ri, err := r.kube.Resource(argocd.ApplicationKind, rel.Namespace)
	switch {
	case meta.IsNoMatchError(err):
		return false, "", nil // Argo CD's CRDs are not there: not installed
	case err != nil:
		return false, "", err
	}
	app, err := ri.Get(ctx, argocd.SelfApplication, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("read Application %s/%s: %w", rel.Namespace, argocd.SelfApplication, err)
	}
	if app.GetDeletionTimestamp() != nil {
		return false, "", nil
	}
	automated, found, _ := unstructured.NestedMap(app.Object, "spec", "syncPolicy", "automated")
	if !found || automated == nil {
		return false, "", nil
	}
	if enabled, ok := automated["enabled"].(bool); ok && !enabled {
		return false, "", nil // manual sync: up installs and upgrades
	}
	synced, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	if synced == "" {
		return false, "", nil // Argo CD has not applied it yet
	}
	if current, err := r.storedRelease(rel); err != nil || current == nil {
		return false, "", err
	}
	version, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
	why := fmt.Sprintf("Argo CD manages its own installation: Application %s/%s (chart %s %s) upgrades it from Git; the Helm release %s/%s stays as installed",
		rel.Namespace, argocd.SelfApplication, rel.Chart.Name, version, rel.Namespace, rel.Name)
	if version != rel.Version {
		why += fmt.Sprintf("; %s reaches it when the seed step commits it", rel.Version)
	}
	return true, why, nil
}

// storedRelease reads the release's latest revision from Helm's storage; nil when there is
// none.
func (r *Run) storedRelease(rel helm.Release) (*release.Release, error) {
	cfg, err := helm.NewConfiguration(r.kube.Kubeconfig, r.kube.Context, rel.Namespace, r.opts.Logf)
	if err != nil {
		return nil, err
	}
	current, err := action.NewGet(cfg).Run(rel.Name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Helm release %s/%s: %w", rel.Namespace, rel.Name, err)
	}
	return current, nil
}

// waitReconcilerWorkloads waits until the workloads of the reconciler's
// release are ready. Its HelmRelease upgrades without waiting (see
// flux.yaml): a Ready HelmRelease says the new chart is applied, not that
// the new controllers run.
func (r *Run) waitReconcilerWorkloads(ctx context.Context) error {
	rel := ReconcilerRelease(r.env())
	hr, err := r.storedRelease(rel)
	if err != nil {
		return err
	}
	if hr == nil {
		return fmt.Errorf("Helm release %s/%s is not installed", rel.Namespace, rel.Name)
	}
	for {
		_, err := health.Check(ctx, r.kube.Clientset, hr.Manifest, hr.Namespace)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the %s release's workloads are not ready (chart %s): %w", rel.Name, hr.Chart.Metadata.Version, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
