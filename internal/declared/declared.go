package declared

import (
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/kustomization"
)

// Object is one object a file declares.
type Object struct {
	Group, Kind, Namespace, Name string
	// File is the repository path of the file that declares it.
	File string
	// Spec holds the fields Reachable follows (Flux Kustomizations).
	spec map[string]any
}

// String is "Kind namespace/name" (or "Kind name").
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Same reports whether two declarations are of one object. An object that
// names no namespace may land in any (its Kustomization decides), so it is
// the same as one of its kind and name in any namespace.
func (o Object) Same(p Object) bool {
	return o.Group == p.Group && o.Kind == p.Kind && o.Name == p.Name &&
		(o.Namespace == p.Namespace || o.Namespace == "" || p.Namespace == "")
}

const fluxKustomizeGroup = "kustomize.toolkit.fluxcd.io"

// Decode lists the objects a file declares; a file that is not a manifest
// declares none.
func Decode(file string, data []byte) []Object {
	if !strings.HasSuffix(file, ".yaml") && !strings.HasSuffix(file, ".yml") || path.Base(file) == kustomization.FileName {
		return nil
	}
	objs, err := kube.Decode(data)
	if err != nil {
		return nil
	}
	var out []Object
	for _, u := range objs {
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil || u.GetKind() == "" || u.GetName() == "" {
			continue
		}
		spec, _ := u.Object["spec"].(map[string]any)
		out = append(out, Object{Group: gv.Group, Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), File: file, spec: spec})
	}
	return out
}

// Reachable lists the objects that applying dir as Flux does declares in
// files (slash-separated repository paths to contents), following
// kustomization.yaml resources and the paths of Flux Kustomizations whose
// source is the GitRepository named source. skip(file) leaves a file out
// (groundwork's own). The result is sorted by file, then by object.
func Reachable(files map[string][]byte, dir, source string, skip func(file string) bool) []Object {
	w := &walker{files: files, source: source, skip: skip, seen: map[string]bool{}}
	w.dir(path.Clean(dir), "")
	sort.SliceStable(w.out, func(i, j int) bool { return w.out[i].File < w.out[j].File })
	return w.out
}

type walker struct {
	files  map[string][]byte
	source string
	skip   func(string) bool
	seen   map[string]bool
	out    []Object
}

func (w *walker) isDir(p string) bool {
	if p == "." {
		return true
	}
	for f := range w.files {
		if strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// dir visits a folder; ns, when set, is the namespace a kustomization or
// a Flux Kustomization's targetNamespace gives the objects.
func (w *walker) dir(dir, ns string) {
	key := dir + "\x00" + ns
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	k, ok := w.files[path.Join(dir, kustomization.FileName)]
	if !ok {
		for _, e := range kustomization.Generated(w.files, dir, nil) {
			w.entry(path.Join(dir, e), ns)
		}
		return
	}
	var kz struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	_ = yaml.Unmarshal(k, &kz)
	if ns == "" {
		// An outer kustomization's namespace, or a Flux Kustomization's
		// targetNamespace, wins over an inner one, as in kustomize.
		ns = kz.Namespace
	}
	for _, r := range kz.Resources {
		if strings.Contains(r, "://") || strings.HasPrefix(r, "github.com/") {
			continue // a remote base: not this repository
		}
		w.entry(path.Join(dir, r), ns)
	}
}

func (w *walker) entry(p, ns string) {
	if w.isDir(p) {
		w.dir(p, ns)
		return
	}
	data, ok := w.files[p]
	if !ok || w.seen[p+"\x00"+ns] {
		return
	}
	w.seen[p+"\x00"+ns] = true
	skipped := w.skip != nil && w.skip(p)
	for _, o := range Decode(p, data) {
		if ns != "" && !clusterScoped(o) {
			o.Namespace = ns
		}
		if !skipped {
			w.out = append(w.out, o)
		}
		if o.Group == fluxKustomizeGroup && o.Kind == "Kustomization" {
			w.follow(o)
		}
	}
}

// clusterScopedKinds are the cluster-scoped kinds of Kubernetes itself; a
// kustomization's namespace does not apply to them.
var clusterScopedKinds = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true,
	"IngressClass": true, "PersistentVolume": true, "RuntimeClass": true, "APIService": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "CSIDriver": true,
	"VolumeAttachment": true, "Node": true, "CertificateSigningRequest": true,
}

func clusterScoped(o Object) bool {
	return clusterScopedKinds[o.Kind] || strings.HasPrefix(o.Kind, "Cluster")
}

// follow visits the path of a Flux Kustomization sourced from the same
// repository.
func (w *walker) follow(o Object) {
	ref, _ := o.spec["sourceRef"].(map[string]any)
	if kind, _ := ref["kind"].(string); kind != "GitRepository" {
		return
	}
	if name, _ := ref["name"].(string); name != w.source {
		return
	}
	p, _ := o.spec["path"].(string)
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		p = "."
	}
	ns, _ := o.spec["targetNamespace"].(string)
	w.dir(p, ns)
}

// SourcePaths are the repository paths an Argo CD Application deploys
// (spec.source.path and each spec.sources[].path), cleaned; none for other
// objects.
func (o Object) SourcePaths() []string {
	if o.Group != "argoproj.io" || o.Kind != "Application" {
		return nil
	}
	var out []string
	add := func(src any) {
		m, _ := src.(map[string]any)
		if p, _ := m["path"].(string); p != "" {
			out = append(out, strings.TrimPrefix(path.Clean("/"+p), "/"))
		}
	}
	add(o.spec["source"])
	if list, ok := o.spec["sources"].([]any); ok {
		for _, src := range list {
			add(src)
		}
	}
	return out
}

// Kustomizations are the names of the Flux Kustomizations in namespace
// among objs.
func Kustomizations(objs []Object, namespace string) []string {
	seen := map[string]bool{}
	var names []string
	for _, o := range objs {
		if o.Group == fluxKustomizeGroup && o.Kind == "Kustomization" && (o.Namespace == namespace || o.Namespace == "") && !seen[o.Name] {
			seen[o.Name] = true
			names = append(names, o.Name)
		}
	}
	sort.Strings(names)
	return names
}

// Collision is an object that both groundwork and the repository declare.
type Collision struct {
	Object Object // the repository's declaration
	Ours   Object // groundwork's
}

// Collisions lists the objects of theirs that are also among ours.
func Collisions(ours, theirs []Object) []Collision {
	var out []Collision
	for _, t := range theirs {
		for _, o := range ours {
			if o.Same(t) {
				out = append(out, Collision{Object: t, Ours: o})
				break
			}
		}
	}
	return out
}
