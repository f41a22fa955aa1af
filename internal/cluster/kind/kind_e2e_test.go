//go:build kind

package kind

import (
	"context"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// TestKindEndToEnd creates a real kind cluster; it needs Docker or Podman:
//
//	go test -tags kind ./internal/cluster/kind -run TestKindEndToEnd -v
func TestKindEndToEnd(t *testing.T) {
	ctx := context.Background()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	c, err := New(ctx, "groundwork-e2e", &spec.KindCluster{Nodes: []spec.KindNode{{Role: "control-plane"}}}, kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete() })
	if _, err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if created, err := c.Ensure(ctx); err != nil || created {
		t.Fatalf("second ensure: created=%v err=%v", created, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
}
