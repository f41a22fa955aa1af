package health

import (
	"strings"
	"testing"
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
