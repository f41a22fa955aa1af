package argocd

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/kubefake"
)

// TestPrepareRedisSecret: Prepare makes the namespace and a Redis password
// Secret of groundwork's with a long random password (another each time),
// leaves one that exists as it is (Redis runs with that password); Detach
// leaves it (Argo CD still runs until its release is uninstalled), and
// Uninstalled, after the release is gone, removes only the one groundwork
// made.
func TestPrepareRedisSecret(t *testing.T) {
	ctx := context.Background()
	ns := "argocd"
	env := &spec.Environment{Name: "dev", GitOps: spec.GitOps{Namespace: ns}}
	password := func(t *testing.T) string {
		c := kubefake.New(kinds(), nil)
		if err := New(gitops.Deps{Env: env, Kube: c.Client}).Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatalf("no namespace: %v", err)
		}
		s, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, RedisSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Labels[facts.ManagedByLabel] != facts.ManagedBy {
			t.Errorf("the Secret is not marked as groundwork's: %v", s.Labels)
		}
		return string(s.Data["auth"])
	}
	one, two := password(t), password(t)
	if len(one) < 32 || one == two {
		t.Errorf("passwords %q and %q: want 32 random characters or more, another each time", one, two)
	}

	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: RedisSecret}, Data: map[string][]byte{"auth": []byte("from-the-hook")}}
	c := kubefake.New(kinds(), nil, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, theirs)
	e := New(gitops.Deps{Env: env, Kube: c.Client})
	if err := e.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, RedisSecret, metav1.GetOptions{})
	if err != nil || string(s.Data["auth"]) != "from-the-hook" {
		t.Fatalf("an existing Redis password changed: %v %q", err, s.Data["auth"])
	}
	done, err := e.Uninstalled(ctx)
	if err != nil || len(done) != 0 {
		t.Errorf("Uninstalled deleted the Redis password Secret the chart's hook made: %v %v", done, err)
	}

	c = kubefake.New(kinds(), nil)
	e = New(gitops.Deps{Env: env, Kube: c.Client})
	if err := e.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if done, err = e.Detach(ctx); err != nil || slices.Contains(done, "Secret argocd/"+RedisSecret) {
		t.Errorf("Detach deleted the Redis password while Argo CD still runs: %v %v", done, err)
	}
	if done, err = e.Uninstalled(ctx); err != nil || !slices.Contains(done, "Secret argocd/"+RedisSecret) {
		t.Errorf("Uninstalled left the Redis password Secret groundwork made: %v %v", done, err)
	}
}
