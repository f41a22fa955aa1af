package flux

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Names and kinds of the objects groundwork points Flux with.
const (
	SyncName = "flux-system"
	// SyncFile is where the sync objects are, under the environment's path.
	SyncFile = "groundwork/sync.yaml"
	// LegacySyncFile is where groundwork before v0.x kept them (its files
	// were at the environment's root; up moves them into groundwork/).
	LegacySyncFile      = "flux-system/sync.yaml"
	ReconcileAnnotation = "reconcile.fluxcd.io/requestedAt"
	// PruneAnnotation with the value "disabled" keeps an object from being
	// garbage-collected by the Kustomization that applied it.
	PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	// RetiredAnnotation marks a Kustomization of groundwork's that a newer
	// layout no longer declares: up keeps it from being pruned (which would
	// delete what it applied) until its successor applied the same
	// objects, then deletes it without garbage collection.
	RetiredAnnotation = "groundwork.dev/retired"
)

// API kinds.
var (
	GitRepositoryKind  = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
	KustomizationKind  = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	HelmReleaseKind    = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}
	HelmRepositoryKind = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"}
)

// DeclaredKustomizations lists the Kustomizations in namespace that the
// files (a repository snapshot: path to content) declare.
func DeclaredKustomizations(files map[string][]byte, namespace string) []string {
	var names []string
	seen := map[string]bool{}
	for p, b := range files {
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
			continue
		}
		objs, err := kube.Decode(b)
		if err != nil {
			continue // not every file is a manifest the controllers read
		}
		for _, o := range objs {
			if o.GroupVersionKind() == KustomizationKind && o.GetNamespace() == namespace && !seen[o.GetName()] {
				seen[o.GetName()] = true
				names = append(names, o.GetName())
			}
		}
	}
	sort.Strings(names)
	return names
}

// RequestReconcile asks Flux to reconcile the sync GitRepository now.
func RequestReconcile(ctx context.Context, c *kube.Client, namespace string, now time.Time) error {
	ri, err := c.Resource(GitRepositoryKind, namespace)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ReconcileAnnotation, now.Format(time.RFC3339Nano))
	if _, err = ri.Patch(ctx, SyncName, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
		return err
	}
	// The Helm repositories' indexes too: a chart version published since
	// their last fetch (interval 1h) would otherwise stay unknown, and a
	// version bump could not be installed until then.
	// A nudge only saves time: one that fails is not an error.
	hr, err := c.Resource(HelmRepositoryKind, namespace)
	if err != nil {
		return nil
	}
	list, err := hr.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	for _, u := range list.Items {
		_, _ = hr.Patch(ctx, u.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
	}
	return nil
}
