package kubefake

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Cluster is a fake cluster: its client and the fake dynamic client under
// it (for its recorded actions).
type Cluster struct {
	*kube.Client
	Fake *dynamicfake.FakeDynamicClient
}

// New serves kinds (namespaced, resource name: the lower-case plural) with
// objs in them, and the typed objects through the fake clientset.
func New(kinds []schema.GroupVersionKind, objs []*unstructured.Unstructured, typed ...runtime.Object) *Cluster {
	m := meta.NewDefaultRESTMapper(nil)
	lists := map[schema.GroupVersionResource]string{}
	for _, k := range kinds {
		plural, _ := meta.UnsafeGuessKindToResource(k)
		m.Add(k, meta.RESTScopeNamespace)
		lists[plural] = k.Kind + "List"
	}
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, ros...)
	return &Cluster{Client: kube.New(fake.NewSimpleClientset(typed...), dyn, resettable{m}), Fake: dyn}
}

type resettable struct{ *meta.DefaultRESTMapper }

func (resettable) Reset() {}
