package argocd

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/notify"
)

// Detach lets go of the cluster without deleting what Argo CD applied:
// the ApplicationSets are deleted leaving their Applications (orphaned),
// every Application stops syncing and loses its resources finalizer (which
// would otherwise delete what it applied), then is deleted; then the
// environment's AppProject, the repository credentials Secret (the Git
// token) and argocd-notifications-secret (the webhook URLs) go. The Redis
// password Secret stays while Argo CD runs (see Uninstalled).
func (e *Engine) Detach(ctx context.Context) ([]string, error) {
	var done []string
	if ri, err := e.d.Kube.Resource(ApplicationSetKind, e.Namespace); err == nil {
		orphan := metav1.DeletePropagationOrphan
		d, err := deleteAll(ctx, ri, "ApplicationSet", e.Namespace,
			`{"metadata":{"finalizers":null},"spec":{"syncPolicy":{"preserveResourcesOnDeletion":true}}}`, metav1.DeleteOptions{PropagationPolicy: &orphan})
		done = append(done, d...)
		if err != nil {
			return done, err
		}
	}
	if ri, err := e.d.Kube.Resource(ApplicationKind, e.Namespace); err == nil {
		// First every Application stops syncing, so that none (the
		// root) applies another again while they go.
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return done, fmt.Errorf("list Applications: %w", err)
		}
		for _, u := range list.Items {
			if _, err := ri.Patch(ctx, u.GetName(), types.MergePatchType, []byte(`{"spec":{"syncPolicy":null},"operation":null}`),
				metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
				return done, fmt.Errorf("stop Application %s/%s syncing: %w", e.Namespace, u.GetName(), err)
			}
		}
		d, err := deleteAll(ctx, ri, "Application", e.Namespace, `{"metadata":{"finalizers":null}}`, metav1.DeleteOptions{})
		done = append(done, d...)
		if err != nil {
			return done, err
		}
	}
	if ri, err := e.d.Kube.Resource(AppProjectKind, e.Namespace); err == nil {
		err := ri.Delete(ctx, e.d.Env.Name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			done = append(done, "AppProject "+e.Namespace+"/"+e.d.Env.Name)
		case !apierrors.IsNotFound(err):
			return done, fmt.Errorf("delete AppProject %s/%s: %w", e.Namespace, e.d.Env.Name, err)
		}
	}
	// Gone once the API server's garbage collector has orphaned what
	// the ApplicationSets made: only then can nothing put them back.
	if err := e.gone(ctx, ApplicationSetKind, ApplicationKind); err != nil {
		return done, err
	}
	secrets := []string{RepositorySecretName(e.d.Env.Name)}
	if e.d.Env.Notifications != nil {
		secrets = append(secrets, notify.ArgoCDSecret)
	}
	return gitops.DeleteSecrets(ctx, e.d.Kube, e.Namespace, done, secrets...)
}

// deleteAll deletes every object of ri after patching it with patch (its
// finalizers dropped), each deletion conditional on the patched version:
// an object a controller changed since (a finalizer put back) is patched
// and deleted again rather than deleted with its finalizer.
func deleteAll(ctx context.Context, ri dynamic.ResourceInterface, kind, namespace, patch string, opts metav1.DeleteOptions) ([]string, error) {
	var done []string
	for attempt := 0; ; attempt++ {
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return done, fmt.Errorf("list %ss: %w", kind, err)
		}
		conflicts := 0
		for _, u := range list.Items {
			p, err := ri.Patch(ctx, u.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return done, fmt.Errorf("detach %s %s/%s: %w", kind, namespace, u.GetName(), err)
			}
			rv := p.GetResourceVersion()
			o := opts
			o.Preconditions = &metav1.Preconditions{ResourceVersion: &rv}
			err = ri.Delete(ctx, u.GetName(), o)
			switch {
			case apierrors.IsConflict(err):
				conflicts++
				continue
			case apierrors.IsNotFound(err):
				continue
			case err != nil:
				return done, fmt.Errorf("delete %s %s/%s: %w", kind, namespace, u.GetName(), err)
			}
			done = append(done, fmt.Sprintf("%s %s/%s", kind, namespace, u.GetName()))
		}
		if conflicts == 0 {
			return done, nil
		}
		if attempt == 20 {
			return done, fmt.Errorf("%d %s(s) in %s kept changing while being deleted; run again", conflicts, kind, namespace)
		}
		select {
		case <-ctx.Done():
			return done, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// gone waits until no object of the kinds is left in the namespace (the
// orphan finalizer of an ApplicationSet is the garbage collector's to
// remove), at most the spec's sync timeout.
func (e *Engine) gone(ctx context.Context, kinds ...schema.GroupVersionKind) error {
	ctx, cancel := context.WithTimeout(ctx, e.d.Env.GitOps.Sync.Timeout)
	defer cancel()
	for _, k := range kinds {
		ri, err := e.d.Kube.Resource(k, e.Namespace)
		if err != nil {
			continue
		}
		for {
			list, err := ri.List(ctx, metav1.ListOptions{})
			if err == nil && len(list.Items) == 0 {
				break
			}
			select {
			case <-ctx.Done():
				n := 0
				if list != nil {
					n = len(list.Items)
				}
				return fmt.Errorf("%d %s(s) still in %s after their deletion (%v): is the cluster's garbage collector (kube-controller-manager) running? Run down again once they are gone", n, k.Kind, e.Namespace, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
