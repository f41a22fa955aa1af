package drill

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Declared is an object Git declares, with the layer it belongs to.
type Declared struct {
	declared.Object
	Layer Layer
	// SOPS says the file is SOPS-encrypted (a Secret to find decrypted).
	SOPS bool
}

// Classify lists what the environment's files declare, by layer: sources
// (Flux's source kinds, Argo CD's root Application), infrastructure (Flux
// HelmReleases, Argo CD Applications of a chart), apps (Kustomizations and
// the other Applications) and the secrets (SOPS-encrypted Secrets,
// SealedSecrets, ExternalSecrets, verified with the apps).
func Classify(env *spec.Environment, files map[string][]byte) []Declared {
	root := path.Clean(env.GitOps.Repository.Path)
	var names []string
	for p := range files {
		if p == root || strings.HasPrefix(p, root+"/") {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	var out []Declared
	seen := map[string]bool{}
	for _, p := range names {
		for _, o := range declared.Decode(p, files[p]) {
			l, ok := classify(env, o, files[p])
			key := o.Group + "/" + o.String()
			if !ok || seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, Declared{Object: o, Layer: l, SOPS: o.Kind == "Secret" && o.Group == ""})
		}
	}
	return out
}

func classify(env *spec.Environment, o declared.Object, data []byte) (Layer, bool) {
	switch {
	case o.Group == "source.toolkit.fluxcd.io":
		return LayerSources, true
	case o.Group == "helm.toolkit.fluxcd.io" && o.Kind == "HelmRelease":
		return LayerInfrastructure, true
	case o.Group == "kustomize.toolkit.fluxcd.io" && o.Kind == "Kustomization":
		return LayerApps, true
	case o.Group == "argoproj.io" && o.Kind == "Application":
		if o.Name == facts.RootApplication(env) {
			return LayerSources, true
		}
		if strings.Contains(string(data), "chart:") {
			return LayerInfrastructure, true
		}
		return LayerApps, true
	case o.Group == "bitnami.com" && o.Kind == "SealedSecret",
		o.Group == "external-secrets.io" && o.Kind == "ExternalSecret":
		return LayerApps, true
	case o.Group == "" && o.Kind == "Secret" && sopsenc.IsEncrypted(data):
		return LayerApps, true
	}
	return "", false
}

// ClusterInspector looks at the declared objects in the scratch cluster.
type ClusterInspector struct {
	c        *kube.Client
	declared []Declared
}

// NewClusterInspector inspects what files declare in the cluster of c.
func NewClusterInspector(c *kube.Client, env *spec.Environment, files map[string][]byte) Inspector {
	return &ClusterInspector{c: c, declared: Classify(env, files)}
}

// Look reads the health of the layer's declared objects.
func (ci *ClusterInspector) Look(ctx context.Context, l Layer) ([]Object, error) {
	out := []Object{}
	for _, d := range ci.declared {
		if d.Layer != l {
			continue
		}
		o := Object{Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, File: d.File}
		ci.health(ctx, d, &o)
		out = append(out, o)
	}
	return out, nil
}

func (ci *ClusterInspector) health(ctx context.Context, d Declared, o *Object) {
	u, err := ci.get(ctx, d)
	switch {
	case apierrors.IsNotFound(err) || u == nil && err == nil:
		o.Message = "not in the cluster"
		if d.SOPS {
			o.Message = "not in the cluster: the SOPS file was not decrypted and applied"
		}
		return
	case err != nil:
		o.Message = err.Error()
		return
	}
	o.Namespace = u.GetNamespace()
	switch {
	case d.SOPS:
		o.Ready, o.Message = true, "decrypted"
	case d.Group == "argoproj.io":
		sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		rev, _, _ := unstructured.NestedString(u.Object, "status", "sync", "revision")
		if d.Layer == LayerSources {
			o.Ready, o.Message = rev != "", "fetched "+rev
			if rev == "" {
				o.Message = "nothing fetched yet"
			}
			return
		}
		o.Ready = sync == "Synced" && health == "Healthy"
		o.Message = strings.TrimSpace(sync + " " + health)
		if msg, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "message"); !o.Ready && msg != "" {
			o.Message += ": " + msg
		}
		o.Stalled = health == "Degraded"
	case d.Group == "bitnami.com":
		ready, msg := condition(u, "Synced")
		if ready {
			if _, err := ci.c.Clientset.CoreV1().Secrets(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{}); err != nil {
				ready, msg = false, "unsealed, but its Secret: "+err.Error()
			}
		}
		o.Ready, o.Message = ready, msg
		if ready {
			o.Message = "unsealed"
		}
	default:
		o.Ready, o.Message = condition(u, "Ready")
		if stalled, _ := condition(u, "Stalled"); stalled {
			o.Stalled = true
		}
	}
}

// condition reports whether the condition is True, and its message.
func condition(u *unstructured.Unstructured, typ string) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			msg := fmt.Sprint(m["message"])
			if m["message"] == nil {
				msg = fmt.Sprint(m["reason"])
			}
			return m["status"] == "True", msg
		}
	}
	return false, "no " + typ + " condition yet"
}

// get reads the object; one that names no namespace (its Kustomization
// places it) is looked for by name in every namespace.
func (ci *ClusterInspector) get(ctx context.Context, d Declared) (*unstructured.Unstructured, error) {
	if d.SOPS {
		if d.Namespace == "" {
			list, err := ci.c.Clientset.CoreV1().Secrets("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + d.Name})
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				if appliedByReconciler(&list.Items[i].ObjectMeta) {
					return secretObject(&list.Items[i]), nil
				}
			}
			return nil, nil
		}
		s, err := ci.c.Clientset.CoreV1().Secrets(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return secretObject(s), nil
	}
	ri, err := ci.c.Resource(schema.GroupVersionKind{Group: d.Group, Kind: d.Kind}, d.Namespace)
	if err != nil {
		// The kind's CRD is not there (yet): the object is not either.
		return nil, nil
	}
	if d.Namespace != "" {
		return ri.Get(ctx, d.Name, metav1.GetOptions{})
	}
	list, err := ri.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + d.Name})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		o := &list.Items[i]
		if appliedByReconciler(&metav1.ObjectMeta{Labels: o.GetLabels(), Annotations: o.GetAnnotations()}) {
			return o, nil
		}
	}
	return nil, nil
}

// appliedByReconciler says whether the reconciler applied the object (Flux's
// Kustomization label, Argo CD's tracking annotation or instance label): an
// object of the same name that was already in a cluster the drill was
// given is not the one Git declares.
func appliedByReconciler(m *metav1.ObjectMeta) bool {
	return m.Labels["kustomize.toolkit.fluxcd.io/name"] != "" || m.Annotations["argocd.argoproj.io/tracking-id"] != "" || m.Labels["app.kubernetes.io/instance"] != ""
}

// secretObject keeps only a Secret's name: its values are never read
// into the report.
func secretObject(s *corev1.Secret) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetName(s.Name)
	u.SetNamespace(s.Namespace)
	return u
}

// writeExpiry records the drill's expiry in the scratch cluster as up's
// expiry step does for an ephemeral instance (the same ConfigMap): gc
// reads it. A record of another instance already there (a user's cluster
// hosting an ephemeral instance) is left alone.
func writeExpiry(ctx context.Context, c *kube.Client, instance string, env *spec.Environment, expires time.Time) error {
	if c == nil {
		return errors.New("rebuild's run has no client after its kubeconfig step")
	}
	cms := c.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace)
	if cm, err := cms.Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{}); err == nil && cm.Data["environment"] != instance {
		return nil
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": facts.ExpiryNamespace}}}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"namespace": facts.ExpiryNamespace, "name": facts.ExpiryConfigMap, "labels": map[string]any{"app.kubernetes.io/managed-by": "groundwork"}},
		"data": map[string]any{
			"environment": instance,
			"drill":       "true",
			"expires":     expires.Format(time.RFC3339),
			"repository":  env.GitOps.Repository.URL,
			"branch":      env.GitOps.Repository.Branch,
			"path":        env.GitOps.Repository.Path,
		},
	}}
	_, err := c.ApplyAll(ctx, []*unstructured.Unstructured{ns, cm})
	return err
}
