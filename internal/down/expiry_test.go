package down

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// TestDeleteExpiry: down --uninstall of an ephemeral instance on an
// existing cluster deletes the instance's expiry record, and only its own
// (on the harness: tests/e2e TestGitHubTemplateOnTheHarness, where the
// next instance on the same cluster must get a record of its own).
func TestDeleteExpiry(t *testing.T) {
	ctx := context.Background()
	record := func(env string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: facts.ExpiryNamespace, Name: facts.ExpiryConfigMap},
			Data: map[string]string{"environment": env}}
	}
	o := Options{Env: &spec.Environment{Name: "ci-a", Ephemeral: &spec.Ephemeral{}}, Logf: t.Logf}

	c := &kube.Client{Clientset: fake.NewClientset(record("ci-b"))}
	if err := deleteExpiry(ctx, c, o); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace).Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{}); err != nil {
		t.Errorf("another instance's record went: %v", err)
	}

	c = &kube.Client{Clientset: fake.NewClientset(record("ci-a"))}
	if err := deleteExpiry(ctx, c, o); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace).Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the instance's record stays: %v", err)
	}
	if err := deleteExpiry(ctx, c, o); err != nil {
		t.Errorf("no record: %v", err)
	}
}
