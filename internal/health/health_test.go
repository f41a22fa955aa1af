package health

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestWorkloads(t *testing.T) {
	manifest := `---
# Source: flux2/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: source-controller
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: source-controller
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: data
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
`
	got, err := Workloads(manifest, "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	want := []ref{{"Deployment", "flux-system", "source-controller"}, {"StatefulSet", "data", "db"}, {"DaemonSet", "flux-system", "agent"}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNotReadyErrorText(t *testing.T) {
	err := &NotReadyError{Objects: []Status{{Kind: "Deployment", Namespace: "flux-system", Name: "source-controller", Summary: "0/1 replicas ready",
		Reasons: []string{"pod source-controller-1 (Pending): PodScheduled=False (Unschedulable: 0/1 nodes are available)"}}}}
	msg := err.Error()
	if !strings.Contains(msg, "Deployment flux-system/source-controller: 0/1 replicas ready\n    pod source-controller-1 (Pending): PodScheduled=False") {
		t.Fatalf("message:\n%s", msg)
	}
}

// TestNamespace: the workloads of a namespace that are not ready, with
// their pods' reasons, and none of those that are (a fake clientset: the
// function only reads).
func TestNamespace(t *testing.T) {
	one := int32(1)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kustomize-controller"}}
	cs := fake.NewSimpleClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "kustomize-controller"},
			Spec:   appsv1.DeploymentSpec{Replicas: &one, Selector: sel},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 0, UpdatedReplicas: 1}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "source-controller"},
			Spec:   appsv1.DeploymentSpec{Replicas: &one},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 1}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "kustomize-controller-1", Labels: sel.MatchLabels},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "manager", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}},
			}}}},
	)
	bad, err := Namespace(context.Background(), cs, "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Name != "kustomize-controller" {
		t.Fatalf("not ready: %v, want kustomize-controller alone", bad)
	}
	got := bad[0].String()
	for _, want := range []string{
		"Deployment flux-system/kustomize-controller: 0/1 replicas ready",
		"pod kustomize-controller-1 (Running): container manager waiting: CrashLoopBackOff back-off 40s restarting failed container; container manager restarted 4 times, last exit 137 (Error)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the status lacks %q:\n%s", want, got)
		}
	}
}
