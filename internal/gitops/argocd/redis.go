package argocd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// RedisSecret is the Secret holding the password of Argo CD's Redis (key
// auth): every Argo CD component reads it by this name, whatever the
// release is called.
const RedisSecret = "argocd-redis"

// Prepare creates Argo CD's namespace and its Redis password Secret, with a
// random password, when there is none: groundwork installs the argo-cd chart
// with its redis-secret-init hook off (see render.ArgoCDValues), as the
// chart allows when the Secret is provided otherwise (an Argo CD installed with the hook,
// or by an earlier up, keeps the password it has: Redis runs with it).
func (e *Engine) Prepare(ctx context.Context) error {
	ns := e.d.Env.GitOps.Namespace
	core := e.d.Kube.Clientset.CoreV1()
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	secrets := core.Secrets(ns)
	if _, err := secrets.Get(ctx, RedisSecret, metav1.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: RedisSecret, Namespace: ns,
			Labels: map[string]string{facts.ManagedByLabel: facts.ManagedBy, "app.kubernetes.io/part-of": "argocd"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"auth": []byte(base64.RawURLEncoding.EncodeToString(b))},
	}
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Secret %s/%s (Argo CD's Redis password): %w", ns, RedisSecret, err)
	}
	e.d.Logf("created Secret %s/%s, the password of Argo CD's Redis", ns, RedisSecret)
	return nil
}

// Uninstalled deletes, once Argo CD's release is gone, the Redis password
// Secret Prepare made (not one the chart's hook made). Not before: were the
// uninstall to fail, Argo CD would go on running, and the next up would give
// the components a new password Redis does not have.
func (e *Engine) Uninstalled(ctx context.Context) ([]string, error) {
	secrets := e.d.Kube.Clientset.CoreV1().Secrets(e.Namespace)
	s, err := secrets.Get(ctx, RedisSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Secret %s/%s: %w", e.Namespace, RedisSecret, err)
	case s.Labels[facts.ManagedByLabel] != facts.ManagedBy:
		return nil, nil
	}
	return gitops.DeleteSecrets(ctx, e.d.Kube, e.Namespace, nil, RedisSecret)
}
