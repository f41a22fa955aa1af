package up

import (
	"context"
	"fmt"
	"path"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/gitops/flux"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// adoptBootstrap prepares the objects flux bootstrap applied for Helm to
// adopt them into the reconciler's release, and keeps Flux from pruning
// them when Git stops declaring them (step 1 of the take-over, see
// seed/bootstrap.go).
func (r *Run) adoptBootstrap(ctx context.Context) error {
	if r.repo == nil || r.repo.Bootstrap == "" {
		return nil
	}
	rel := r.engine().Release()
	tree := r.repo.Preview.Tree
	n := 0
	for _, file := range []string{"gotk-components.yaml", "gotk-sync.yaml"} {
		objs, err := kube.Decode(tree[path.Join(r.repo.Bootstrap, file)])
		if err != nil {
			return fmt.Errorf("%s/%s: %w", r.repo.Bootstrap, file, err)
		}
		for _, o := range objs {
			meta := fmt.Sprintf(`"annotations":{%q:"disabled"}`, flux.PruneAnnotation)
			if file == "gotk-components.yaml" {
				// Helm's ownership metadata: the release adopts the object.
				meta = fmt.Sprintf(`"labels":{"app.kubernetes.io/managed-by":"Helm"},"annotations":{%q:"disabled","meta.helm.sh/release-name":%q,"meta.helm.sh/release-namespace":%q}`,
					flux.PruneAnnotation, rel.Name, rel.Namespace)
			}
			ri, err := r.kube.Resource(o.GroupVersionKind(), o.GetNamespace())
			if err != nil {
				continue // a kind the cluster does not serve: nothing of it runs
			}
			_, err = ri.Patch(ctx, o.GetName(), types.MergePatchType, []byte(`{"metadata":{`+meta+`}}`), metav1.PatchOptions{FieldManager: kube.FieldManager})
			switch {
			case apierrors.IsNotFound(err):
				continue
			case err != nil:
				return fmt.Errorf("prepare %s %s from %s for Helm: %w", o.GetKind(), o.GetName(), file, err)
			}
			n++
		}
	}
	r.opts.Logf("taking over flux bootstrap's Flux: %d object(s) marked for Helm release %s/%s and kept from pruning", n, rel.Namespace, rel.Name)
	return nil
}
