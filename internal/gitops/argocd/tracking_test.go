package argocd

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/internal/kube"
)

// TestTrackingMarksEveryObject checks the post-renderer gives every object
// of a release the tracking annotation Argo CD would give it: its own
// namespace, or the destination namespace when it has none (cluster-scoped
// objects, namespaced ones left to the release), and the core group empty.
func TestTrackingMarksEveryObject(t *testing.T) {
	in := `---
# Source: argo-cd/templates/argocd-configs/argocd-cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  annotations:
    kept: "yes"
data:
  timeout.reconciliation: 20s
---
# Source: argo-cd/templates/argocd-server/clusterrole.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: argo-cd-argocd-server
rules: []
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argo-cd-argocd-server
spec:
  replicas: 1
`
	out, err := Tracking{App: SelfApplication, Namespace: "argocd"}.Run(bytes.NewBufferString(in))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetAnnotations()[TrackingAnnotation])
	}
	want := []string{
		"argocd:/ConfigMap:argocd/argocd-cm",
		"argocd:rbac.authorization.k8s.io/ClusterRole:argocd/argo-cd-argocd-server",
		"argocd:apps/Deployment:argocd/argo-cd-argocd-server",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tracking ids (-want +got):\n%s", diff)
	}
	if objs[0].GetAnnotations()["kept"] != "yes" || objs[0].Object["data"].(map[string]any)["timeout.reconciliation"] != "20s" {
		t.Errorf("the ConfigMap lost what it had: %v", objs[0].Object)
	}
	if r, _ := objs[2].Object["spec"].(map[string]any)["replicas"]; r != float64(1) && r != int64(1) {
		t.Errorf("replicas %v (%T)", r, r)
	}
}
