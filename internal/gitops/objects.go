package gitops

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Secret is an Opaque Secret groundwork creates, labelled as its.
func Secret(namespace, name string, data map[string][]byte) *unstructured.Unstructured {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{facts.ManagedByLabel: facts.ManagedBy}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		panic(err) // a typed Secret always converts
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

// DeleteSecrets deletes the named Secrets of namespace that exist,
// appending what it deleted to done.
func DeleteSecrets(ctx context.Context, c *kube.Client, namespace string, done []string, names ...string) ([]string, error) {
	for _, name := range names {
		err := c.Clientset.CoreV1().Secrets(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return done, fmt.Errorf("delete Secret %s/%s: %w", namespace, name, err)
		}
		done = append(done, "Secret "+namespace+"/"+name)
	}
	return done, nil
}
