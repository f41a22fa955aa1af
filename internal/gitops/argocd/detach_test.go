package argocd

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/kubefake"
)

// TestDetach: every Application loses its resources finalizer and its
// sync policy before it is deleted (with the finalizer, Argo CD would
// delete what it applied), the ApplicationSet goes leaving its
// Applications to be deleted the same way, and the AppProject, the
// repository Secret (the Git token) and the notification Secret (the
// webhook URLs) go; another Secret stays.
func TestDetach(t *testing.T) {
	ns := "argocd"
	var objs []*unstructured.Unstructured
	for _, name := range []string{"dev-root", "argocd", "shop"} {
		a := app(t, "metadata: {name: "+name+"}\nspec: {syncPolicy: {automated: {prune: true, selfHeal: true}}}\n")
		a.SetAPIVersion("argoproj.io/v1alpha1")
		a.SetKind("Application")
		a.SetNamespace(ns)
		a.SetFinalizers([]string{"resources-finalizer.argocd.argoproj.io"})
		objs = append(objs, a)
	}
	set := app(t, "metadata: {name: dev-apps}\n")
	set.SetAPIVersion("argoproj.io/v1alpha1")
	set.SetKind("ApplicationSet")
	set.SetNamespace(ns)
	project := app(t, "metadata: {name: dev}\n")
	project.SetAPIVersion("argoproj.io/v1alpha1")
	project.SetKind("AppProject")
	project.SetNamespace(ns)
	objs = append(objs, set, project)
	secret := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	c := kubefake.New(kinds(), objs, secret("repo-dev"), secret("argocd-notifications-secret"), secret("argocd-secret"))
	env := &spec.Environment{Name: "dev", GitOps: spec.GitOps{Namespace: ns}, Notifications: &spec.Notifications{}}
	done, err := New(gitops.Deps{Env: env, Kube: c.Client}).Detach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ApplicationSet argocd/dev-apps", "Application argocd/dev-root", "Application argocd/argocd", "Application argocd/shop",
		"AppProject argocd/dev", "Secret argocd/repo-dev", "Secret argocd/argocd-notifications-secret"} {
		if !slices.Contains(done, want) {
			t.Errorf("not detached: %s (done: %v)", want, done)
		}
	}
	if _, err := c.Clientset.CoreV1().Secrets(ns).Get(context.Background(), "argocd-secret", metav1.GetOptions{}); err != nil {
		t.Errorf("a Secret groundwork did not create was deleted: %v", err)
	}
	// Each Application: its sync stopped, then its finalizer dropped, then
	// deleted on the condition that nothing changed it since.
	var steps []string
	for _, a := range c.Fake.Actions() {
		if a.GetResource().Resource != "applications" {
			continue
		}
		switch a := a.(type) {
		case clienttesting.PatchAction:
			if a.GetName() == "shop" {
				steps = append(steps, "patch "+string(a.GetPatch()))
			}
		case clienttesting.DeleteAction:
			if a.GetName() == "shop" {
				if a.GetDeleteOptions().Preconditions == nil || a.GetDeleteOptions().Preconditions.ResourceVersion == nil {
					t.Error("an Application is deleted without the precondition that it was not changed since its finalizer went")
				}
				steps = append(steps, "delete")
			}
		}
	}
	want := []string{`patch {"spec":{"syncPolicy":null},"operation":null}`, `patch {"metadata":{"finalizers":null}}`, "delete"}
	if !slices.Equal(steps, want) {
		t.Errorf("shop: %v, want %v", steps, want)
	}
}

func kinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{ApplicationKind, ApplicationSetKind, AppProjectKind}
}
