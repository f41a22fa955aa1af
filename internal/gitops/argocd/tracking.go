package argocd

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/groundwork-dev/groundwork/internal/kube"
)

// TrackingAnnotation is the annotation by which Argo CD (annotation
// tracking, its default) knows which Application a live object belongs to.
const TrackingAnnotation = "argocd.argoproj.io/tracking-id"

// TrackingID is the value Argo CD gives TrackingAnnotation on an object it
// applies for Application app: "<app>:<group>/<kind>:<namespace>/<name>",
// the namespace being the object's own or, when it has none (cluster-scoped
// objects, namespaced ones left to the release's namespace), the
// Application's destination namespace.
func TrackingID(app, group, kind, namespace, name string) string {
	return fmt.Sprintf("%s:%s/%s:%s/%s", app, group, kind, namespace, name)
}

// Tracking is a Helm post-renderer that marks every object of a release
// as Argo CD would mark it when Application App, whose destination
// namespace is Namespace (the release's), applies the same chart with the
// same values. groundwork installs Argo CD with Helm and then hands the
// release to the Application by which Argo CD manages itself: with the
// marks already there, that Application is Synced from its first
// comparison. Without them every object of the chart differs from Git by
// its tracking annotation, and Argo CD syncs itself again right after being
// installed (its PreSync hook Job run again, every Deployment's generation
// bumped by the new annotation), which on a rebuild is most of the wait.
type Tracking struct {
	App, Namespace string
}

// Run implements Helm's postrender.PostRenderer.
func (t Tracking) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := kube.Decode(rendered.Bytes())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" {
			ns = t.Namespace
		}
		gvk := o.GroupVersionKind()
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[TrackingAnnotation] = TrackingID(t.App, gvk.Group, gvk.Kind, ns, o.GetName())
		o.SetAnnotations(a)
		// Written back as JSON, which is YAML too: turning the chart's
		// CRDs (most of its 1.5 MB) back into YAML takes several times
		// longer than reading them.
		b, err := json.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
		out.WriteString("\n")
	}
	return &out, nil
}
