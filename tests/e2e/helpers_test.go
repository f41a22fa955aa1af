package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

func mustCreateSecret(ctx context.Context, t *testing.T, cs kubernetes.Interface, s *corev1.Secret) {
	t.Helper()
	if _, err := cs.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating secret %s/%s: %v", s.Namespace, s.Name, err)
	}
}

func createFluxObject(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	if _, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// requestReconcile asks source-controller to fetch the GitRepository now,
// as `flux reconcile source git` does.
func requestReconcile(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := dyn.Resource(gitRepositoryGVR).Namespace(harness.FluxNamespace).Patch(ctx, "fleet", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("requesting reconcile: %v", err)
	}
}

// kustomizationApplied checks that the Kustomization is Ready and applied
// the given commit.
func kustomizationApplied(ctx context.Context, dyn dynamic.Interface, name, commit string) error {
	u, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var ready string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			ready = fmt.Sprintf("%v %v: %v", m["status"], m["reason"], m["message"])
			if m["status"] != "True" {
				return fmt.Errorf("kustomization %s not ready: %s", name, ready)
			}
		}
	}
	if !strings.HasSuffix(rev, commit) {
		return fmt.Errorf("kustomization %s applied %q, want %s (ready: %s)", name, rev, commit, ready)
	}
	return nil
}

// waitFor polls check until it succeeds or a 3-minute budget runs out.
func waitFor(ctx context.Context, t *testing.T, what string, check func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
