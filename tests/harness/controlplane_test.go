package harness_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestControlPlane checks that Deployments become Ready on the kwok node and
// that a ServiceAccount kubeconfig is subject to RBAC.
func TestControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	cs := cp.Client()

	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web:1"}}},
			},
		},
	}
	start := time.Now()
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas == 2 && d.Status.AvailableReplicas == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment not ready: %+v", d.Status)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("deployment with 2 replicas Ready in %s", time.Since(start).Round(time.Millisecond))

	// ServiceAccount kubeconfig: may read pods only after a RoleBinding.
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc, err := cp.ServiceAccountKubeconfig(ctx, "default", "reader")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	sa := kubernetes.NewForConfigOrDie(rc)
	if _, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing pods without RBAC: want Forbidden, got %v", err)
	}
	if _, err := cs.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "default"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The RBAC authorizer learns of the binding through its informer: the
	// grant takes effect shortly after the create returns, as on any cluster.
	var pods *corev1.PodList
	for {
		if pods, err = sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err == nil {
			break
		}
		if !apierrors.IsForbidden(err) {
			t.Fatalf("listing pods with view role: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("listing pods with view role: still %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName != harness.KwokNodeName {
			t.Fatalf("pod %s: phase %s on node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}
	// Garbage collector: deleting the Deployment removes its pods.
	if err := cs.AppsV1().Deployments("default").Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	for {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d pods left after deleting the deployment", len(pods.Items))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
