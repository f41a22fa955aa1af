package flux

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Retire marks the Kustomizations named (those that exist) as retired and
// not to be pruned, before the commit that stops declaring them is pushed:
// the Kustomization that applied them then leaves them, and what they
// applied, in place. See DeleteRetired.
func Retire(ctx context.Context, c *kube.Client, namespace string, names []string) ([]string, error) {
	ri, err := c.Resource(KustomizationKind, namespace)
	if err != nil {
		return nil, err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"disabled",%q:"true"}}}`, PruneAnnotation, RetiredAnnotation)
	var done []string
	for _, n := range names {
		_, err := ri.Patch(ctx, n, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return done, fmt.Errorf("mark Kustomization %s/%s retired: %w", namespace, n, err)
		}
		done = append(done, n)
	}
	return done, nil
}

// DeleteRetired deletes the retired Kustomizations without garbage
// collection (prune off and suspended first, so that kustomize-controller's
// finalizer deletes nothing they applied). Call it once their successors
// applied the revision that no longer declares them.
func DeleteRetired(ctx context.Context, c *kube.Client, namespace string) ([]string, error) {
	ri, err := c.Resource(KustomizationKind, namespace)
	if err != nil {
		return nil, err
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var done []string
	for _, u := range list.Items {
		if u.GetAnnotations()[RetiredAnnotation] == "" {
			continue
		}
		n := u.GetName()
		if _, err := ri.Patch(ctx, n, types.MergePatchType, []byte(`{"spec":{"prune":false,"suspend":true}}`), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
			return done, fmt.Errorf("turn off pruning of retired Kustomization %s/%s: %w", namespace, n, err)
		}
		if err := ri.Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return done, fmt.Errorf("delete retired Kustomization %s/%s: %w", namespace, n, err)
		}
		done = append(done, n)
	}
	// Gone when kustomize-controller's finalizer has run (with pruning
	// off, it deletes nothing else).
	for _, n := range done {
		for {
			_, err := ri.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return done, fmt.Errorf("retired Kustomization %s/%s is still being deleted (its finalizer has not run; is kustomize-controller running?): %w", namespace, n, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return done, nil
}
