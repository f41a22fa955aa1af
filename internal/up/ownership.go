package up

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/flux"
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
	if err != nil {
		return false, "", nil // the kind is not served: Flux is not installed
	}
	hr, err := ri.Get(ctx, rel.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("read HelmRelease %s/%s: %w", rel.Namespace, rel.Name, err)
	}
	if suspended, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); suspended {
		return false, "", nil
	}
	if name, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName"); name != "" && name != rel.Name {
		return false, "", nil
	}
	history, _, _ := unstructured.NestedSlice(hr.Object, "status", "history")
	if len(history) == 0 {
		return false, "", nil
	}
	latest, _ := history[0].(map[string]any)
	version, _ := latest["chartVersion"].(string)
	why := fmt.Sprintf("release %s/%s is Flux's: HelmRelease %s/%s (revision %v, chart %s) upgrades it from Git", rel.Namespace, rel.Name, rel.Namespace, rel.Name, latest["version"], version)
	if version != rel.Version {
		why += fmt.Sprintf("; %s reaches it when the seed step commits it", rel.Version)
	}
	return true, why, nil
}
