package helm

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// deployment is a Deployment of one replica, observed and available when
// ready.
func deployment(ready bool) *appsv1.Deployment {
	one := int32(1)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 1, UID: "u1"},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	if ready {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
	}
	return d
}

// replicaSet is the Deployment's current ReplicaSet, all its replicas
// ready when ready (Helm's checker reads the ReplicaSet).
func replicaSet(ready bool) *appsv1.ReplicaSet {
	one := int32(1)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Generation: 1,
			Labels:          map[string]string{"app": "web"},
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u1", Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	if ready {
		rs.Status = appsv1.ReplicaSetStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	}
	return rs
}

func ptr[T any](v T) *T { return &v }

func info(obj runtime.Object) kube.ResourceList {
	return kube.ResourceList{{Name: "web", Namespace: "shop", Object: obj,
		Mapping: &apimeta.RESTMapping{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Scope: apimeta.RESTScopeNamespace}}}
}

// TestWaitReady: the wait returns once what it waits for is ready (looking
// more often than Helm's 2 s: the third look comes well within one of
// Helm's intervals), rides out transient API errors, returns a permanent
// one, and gives up at its timeout.
func TestWaitReady(t *testing.T) {
	const poll = 10 * time.Millisecond
	logf := func(string, ...any) {}

	t.Run("ready after a few looks", func(t *testing.T) {
		cs := fake.NewClientset(deployment(false), replicaSet(false))
		var gets atomic.Int32
		cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			if gets.Add(1) < 3 {
				return true, deployment(false), nil
			}
			return true, deployment(true), nil
		})
		cs.PrependReactor("list", "replicasets", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, &appsv1.ReplicaSetList{Items: []appsv1.ReplicaSet{*replicaSet(gets.Load() >= 3)}}, nil
		})
		if err := waitReady(cs, info(deployment(false)), time.Minute, poll, false, logf); err != nil {
			t.Fatal(err)
		}
		if n := gets.Load(); n < 3 {
			t.Fatalf("ready after %d looks, the Deployment became ready at the third", n)
		}
	})

	t.Run("transient errors are retried", func(t *testing.T) {
		cs := fake.NewClientset(deployment(true), replicaSet(true))
		var gets atomic.Int32
		cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			if gets.Add(1) < 4 {
				return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
			}
			return true, deployment(true), nil
		})
		if err := waitReady(cs, info(deployment(true)), time.Minute, poll, false, logf); err != nil {
			t.Fatalf("a 503 ended the wait: %v", err)
		}
	})

	t.Run("transient errors for longer than transientFor end the wait", func(t *testing.T) {
		saved := transientFor
		transientFor = 50 * time.Millisecond
		defer func() { transientFor = saved }()
		cs := fake.NewClientset()
		cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
		})
		var lines []string
		err := waitReady(cs, info(deployment(true)), time.Minute, poll, false, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
		if !apierrors.IsServiceUnavailable(err) {
			t.Fatalf("an API server failing for longer than transientFor: %v, want its 503", err)
		}
		n := 0
		for _, l := range lines {
			if strings.Contains(l, "the API server is restarting") {
				n++
			}
		}
		if n != 2 { // the first error of the run, and the failure
			t.Errorf("the transient error logged %d times, want once when it starts and once when the wait fails: %q", n, lines)
		}
	})

	t.Run("a permanent error ends the wait", func(t *testing.T) {
		cs := fake.NewClientset()
		cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no"))
		})
		err := waitReady(cs, info(deployment(true)), time.Minute, poll, false, logf)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("wait with a 403: %v, want the 403", err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		cs := fake.NewClientset(deployment(false), replicaSet(false))
		err := waitReady(cs, info(deployment(false)), 50*time.Millisecond, poll, false, logf)
		if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
			t.Fatalf("a Deployment never ready: %v, want a timeout", err)
		}
	})
}

// TestNewConfigurationWaitsFast: the configuration's client is Helm's,
// with groundwork's wait.
func TestNewConfigurationWaitsFast(t *testing.T) {
	cfg, err := NewConfiguration("/nonexistent/kubeconfig", "", "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfg.KubeClient.(*fastWaitClient)
	if !ok || c.poll != WaitPoll {
		t.Fatalf("KubeClient is %T, want groundwork's waiting every %s", cfg.KubeClient, WaitPoll)
	}
	if _, ok := cfg.KubeClient.(kube.InterfaceExt); !ok {
		t.Fatal("the client lost Helm's optional interfaces (WaitForDelete)")
	}
}
