package declared

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// fluxKs is a Flux Kustomization sourced from kind/source at path.
func fluxKs(name, namespace, kind, source, path, targetNamespace string) string {
	s := fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
`, name)
	if namespace != "" {
		s += "  namespace: " + namespace + "\n"
	}
	s += fmt.Sprintf(`spec:
  interval: 10m
  prune: true
  path: %s
  sourceRef:
    kind: %s
    name: %s
`, path, kind, source)
	if targetNamespace != "" {
		s += "  targetNamespace: " + targetNamespace + "\n"
	}
	return s
}

func obj(apiVersion, kind, namespace, name string) string {
	s := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)
	if namespace != "" {
		s += "  namespace: " + namespace + "\n"
	}
	return s
}

func docs(d ...string) []byte { return []byte(strings.Join(d, "---\n")) }

// fleet is a repository with two environments, clusters/dev and
// clusters/prod, in the layout of the Flux examples.
func fleet() map[string][]byte {
	return map[string][]byte{
		"README.md": []byte("# fleet\n"),
		// The entry points of dev: no kustomization.yaml, so Flux applies
		// every YAML file holding objects.
		"clusters/dev/apps.yaml": docs(fluxKs("apps", "flux-system", "GitRepository", "flux-system", "./apps/dev", "")),
		"clusters/dev/infrastructure.yaml": docs(
			fluxKs("infra-configs", "flux-system", "GitRepository", "flux-system", "./infrastructure/configs", "infra"),
			fluxKs("other-repo", "flux-system", "GitRepository", "platform", "./other", ""),
			fluxKs("from-oci", "flux-system", "OCIRepository", "flux-system", "./oci", ""),
		),
		"clusters/dev/notes.md":     []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-yaml\n"),
		"clusters/dev/values.yaml":  []byte("replicas: 2\n"), // not objects: Flux would refuse it, not apply it
		"clusters/prod/apps.yaml":   docs(fluxKs("apps", "flux-system", "GitRepository", "flux-system", "./apps/prod", "")),
		"clusters/prod/extra.yaml":  docs(obj("v1", "ConfigMap", "default", "prod-only")),
		"apps/prod/deployment.yaml": docs(obj("apps/v1", "Deployment", "default", "prod-app")),
		"apps/dev/kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: dev
resources:
  - ../base
  - https://github.com/acme/remote//deploy?ref=v1
  - github.com/acme/remote/deploy?ref=v1
patches:
  - path: patch.yaml
`),
		"apps/dev/patch.yaml": docs(obj("apps/v1", "Deployment", "", "patched-only")),
		"apps/base/kustomization.yaml": []byte(`resources:
  - namespace.yaml
  - deployment.yaml
`),
		"apps/base/namespace.yaml":  docs(obj("v1", "Namespace", "", "podinfo")),
		"apps/base/deployment.yaml": docs(obj("apps/v1", "Deployment", "podinfo", "podinfo"), obj("v1", "Service", "", "podinfo")),
		"apps/base/unlisted.yaml":   docs(obj("v1", "ConfigMap", "", "unlisted")),
		"infrastructure/configs/issuer.yaml": docs(
			obj("cert-manager.io/v1", "ClusterIssuer", "", "letsencrypt"),
			obj("v1", "ConfigMap", "kube-system", "cfg"),
			obj("v1", "Namespace", "", "monitoring"),
		),
		"other/x.yaml": docs(obj("v1", "ConfigMap", "default", "other-repo")),
		"oci/y.yaml":   docs(obj("v1", "ConfigMap", "default", "from-oci")),
	}
}

// line is an object with its file, for comparison.
func line(o Object) string { return o.File + ": " + o.Group + "/" + o.String() }

func lines(objs []Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, line(o))
	}
	return out
}

func TestReachableFollowsKustomizationsAndFlux(t *testing.T) {
	got := lines(Reachable(fleet(), "clusters/dev", "flux-system", nil))
	want := []string{
		"apps/base/deployment.yaml: apps/Deployment dev/podinfo", // namespace: dev of apps/dev overrides
		"apps/base/deployment.yaml: /Service dev/podinfo",
		"apps/base/namespace.yaml: /Namespace podinfo", // a Namespace keeps none
		"clusters/dev/apps.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/apps",
		"clusters/dev/infrastructure.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/infra-configs",
		"clusters/dev/infrastructure.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/other-repo",
		"clusters/dev/infrastructure.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/from-oci",
		"infrastructure/configs/issuer.yaml: cert-manager.io/ClusterIssuer letsencrypt", // cluster-scoped
		"infrastructure/configs/issuer.yaml: /ConfigMap infra/cfg",                      // targetNamespace overrides
		"infrastructure/configs/issuer.yaml: /Namespace monitoring",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reachable from clusters/dev:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, o := range Reachable(fleet(), "clusters/dev", "flux-system", nil) {
		for _, never := range []string{"prod", "other-repo", "from-oci", "patched-only", "unlisted", "not-yaml"} {
			if o.Kind != "Kustomization" && strings.Contains(o.Name, never) {
				t.Errorf("%s must not be reached", line(o))
			}
		}
	}
}

func TestReachableEntryPoints(t *testing.T) {
	cm := func(ns, name string) string { return obj("v1", "ConfigMap", ns, name) }
	cases := []struct {
		name  string
		files map[string][]byte
		dir   string
		skip  func(string) bool
		want  []string
	}{
		{
			name: "a kustomization.yaml at the entry lists what is applied",
			files: map[string][]byte{
				"clusters/dev/kustomization.yaml": []byte("resources: [listed.yaml, sub]\n"),
				"clusters/dev/listed.yaml":        docs(cm("", "listed")),
				"clusters/dev/unlisted.yaml":      docs(cm("", "unlisted")),
				"clusters/dev/sub/a.yaml":         docs(cm("", "sub-a")),
			},
			dir: "clusters/dev",
			want: []string{
				"clusters/dev/listed.yaml: /ConfigMap listed",
				"clusters/dev/sub/a.yaml: /ConfigMap sub-a",
			},
		},
		{
			name: "kustomization namespace and targetNamespace",
			files: map[string][]byte{
				"clusters/dev/ks.yaml":   docs(fluxKs("web", "flux-system", "GitRepository", "flux-system", "./web", "web")),
				"web/kustomization.yaml": []byte("resources:\n- ns.yaml\n- cm.yaml\n- crd.yaml\n"),
				"web/ns.yaml":            docs(obj("v1", "Namespace", "", "web")),
				"web/cm.yaml":            docs(cm("default", "a"), cm("", "b")),
				"web/crd.yaml":           docs(obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.acme.io")),
			},
			dir: "clusters/dev",
			want: []string{
				"clusters/dev/ks.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/web",
				"web/cm.yaml: /ConfigMap web/a",
				"web/cm.yaml: /ConfigMap web/b",
				"web/crd.yaml: apiextensions.k8s.io/CustomResourceDefinition widgets.acme.io",
				"web/ns.yaml: /Namespace web",
			},
		},
		{
			name: "a Kustomization whose path is its own folder terminates",
			files: map[string][]byte{
				"clusters/dev/self.yaml": docs(fluxKs("self", "flux-system", "GitRepository", "flux-system", "./clusters/dev", ""),
					fluxKs("self-ns", "flux-system", "GitRepository", "flux-system", "./clusters/dev/", "elsewhere")),
				"clusters/dev/cm.yaml": docs(cm("", "a")),
			},
			dir: "clusters/dev",
			want: []string{
				"clusters/dev/cm.yaml: /ConfigMap a",
				"clusters/dev/cm.yaml: /ConfigMap elsewhere/a",
				"clusters/dev/self.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/self",
				"clusters/dev/self.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/self-ns",
				"clusters/dev/self.yaml: kustomize.toolkit.fluxcd.io/Kustomization elsewhere/self",
				"clusters/dev/self.yaml: kustomize.toolkit.fluxcd.io/Kustomization elsewhere/self-ns",
			},
		},
		{
			name: "kustomizations that list each other terminate",
			files: map[string][]byte{
				"a/kustomization.yaml": []byte("resources: [../b, cm.yaml]\n"),
				"a/cm.yaml":            docs(cm("", "a")),
				"b/kustomization.yaml": []byte("resources: [../a]\n"),
			},
			dir:  "a",
			want: []string{"a/cm.yaml: /ConfigMap a"},
		},
		{
			name: "skip leaves a file's objects out but follows its Kustomizations",
			files: map[string][]byte{
				"clusters/dev/groundwork/apps.yaml": docs(fluxKs("apps", "flux-system", "GitRepository", "flux-system", "./clusters/dev/apps", "")),
				"clusters/dev/groundwork/cm.yaml":   docs(cm("flux-system", "ours")),
				"clusters/dev/apps/app.yaml":        docs(cm("default", "app")),
			},
			dir:  "clusters/dev/groundwork",
			skip: func(f string) bool { return strings.HasPrefix(f, "clusters/dev/groundwork/") },
			want: []string{"clusters/dev/apps/app.yaml: /ConfigMap default/app"},
		},
		{
			name: "spec.path ./ is the repository root",
			files: map[string][]byte{
				"clusters/dev/root.yaml": docs(fluxKs("root", "flux-system", "GitRepository", "flux-system", "./", "")),
				"kustomization.yaml":     []byte("resources: [top.yaml]\n"),
				"top.yaml":               docs(cm("", "top")),
				"elsewhere/cm.yaml":      docs(cm("", "unlisted")),
			},
			dir: "clusters/dev",
			want: []string{
				"clusters/dev/root.yaml: kustomize.toolkit.fluxcd.io/Kustomization flux-system/root",
				"top.yaml: /ConfigMap top",
			},
		},
		{
			name: "remote resources are skipped",
			files: map[string][]byte{
				"clusters/dev/kustomization.yaml": []byte("resources:\n- https://example.com/x.yaml\n- github.com/acme/fleet//clusters/dev?ref=main\n- git::ssh://git@example.com/x\n- cm.yaml\n"),
				"clusters/dev/cm.yaml":            docs(cm("", "local")),
			},
			dir:  "clusters/dev",
			want: []string{"clusters/dev/cm.yaml: /ConfigMap local"},
		},
		{
			name: "a folder with nothing is nothing",
			files: map[string][]byte{
				"clusters/prod/cm.yaml": docs(cm("", "prod")),
			},
			dir:  "clusters/dev",
			want: []string{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := lines(Reachable(c.files, c.dir, "flux-system", c.skip))
			sort.Strings(got)
			want := append([]string{}, c.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestReachableIsSortedByFile(t *testing.T) {
	objs := Reachable(fleet(), "clusters/dev", "flux-system", nil)
	if !sort.SliceIsSorted(objs, func(i, j int) bool { return objs[i].File < objs[j].File }) {
		t.Fatalf("not sorted by file:\n%s", strings.Join(lines(objs), "\n"))
	}
}

func TestCollisions(t *testing.T) {
	ks := func(group, ns, name, file string) Object {
		return Object{Group: group, Kind: "Kustomization", Namespace: ns, Name: name, File: file}
	}
	const flux, kustomize = "kustomize.toolkit.fluxcd.io", "kustomize.config.k8s.io"
	ours := []Object{
		ks(flux, "flux-system", "apps", "clusters/dev/groundwork/apps.yaml"),
		{Group: "", Kind: "Namespace", Name: "podinfo", File: "clusters/dev/groundwork/ns.yaml"},
		{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository", Name: "flux-system", File: "clusters/dev/groundwork/sync.yaml"},
	}
	cases := []struct {
		name    string
		theirs  Object
		collide bool
	}{
		{"same group, kind, name and namespace", ks(flux, "flux-system", "apps", "clusters/dev/apps.yaml"), true},
		{"theirs without namespace", ks(flux, "", "apps", "clusters/dev/apps.yaml"), true},
		{"ours without namespace", Object{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system", File: "gotk-sync.yaml"}, true},
		{"cluster-scoped, same name", Object{Kind: "Namespace", Name: "podinfo", File: "ns.yaml"}, true},
		{"another group", ks(kustomize, "flux-system", "apps", "clusters/dev/kustomization.yaml"), false},
		{"another namespace", ks(flux, "default", "apps", "clusters/dev/apps.yaml"), false},
		{"another name", ks(flux, "flux-system", "apps-2", "clusters/dev/apps.yaml"), false},
		{"another kind", Object{Group: flux, Kind: "HelmRelease", Namespace: "flux-system", Name: "apps"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Collisions(ours, []Object{c.theirs})
			if !c.collide {
				if len(got) != 0 {
					t.Fatalf("collisions: %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || line(got[0].Object) != line(c.theirs) || !got[0].Ours.Same(c.theirs) {
				t.Fatalf("collisions: %+v, want one of %v", got, c.theirs)
			}
		})
	}
	// Every object of theirs that collides is listed, once, in order.
	theirs := []Object{cases[0].theirs, cases[4].theirs, cases[3].theirs}
	got := Collisions(ours, theirs)
	if len(got) != 2 || line(got[0].Object) != line(theirs[0]) || line(got[0].Ours) != line(ours[0]) || line(got[1].Object) != line(theirs[2]) || line(got[1].Ours) != line(ours[1]) {
		t.Fatalf("collisions: %+v", got)
	}
	if got := Collisions(nil, theirs); len(got) != 0 {
		t.Fatalf("nothing of ours: %+v", got)
	}
}

func TestObjectString(t *testing.T) {
	if got := (Object{Kind: "Namespace", Name: "a"}).String(); got != "Namespace a" {
		t.Errorf("cluster-scoped: %q", got)
	}
	if got := (Object{Kind: "ConfigMap", Namespace: "ns", Name: "a"}).String(); got != "ConfigMap ns/a" {
		t.Errorf("namespaced: %q", got)
	}
}

func TestKustomizations(t *testing.T) {
	objs := Decode("x.yaml", docs(
		fluxKs("zeta", "flux-system", "GitRepository", "flux-system", "./z", ""),
		fluxKs("apps", "flux-system", "GitRepository", "flux-system", "./a", ""),
		fluxKs("apps", "flux-system", "GitRepository", "flux-system", "./a", ""), // twice: once
		fluxKs("no-namespace", "", "GitRepository", "flux-system", "./n", ""),
		fluxKs("elsewhere", "team-a", "GitRepository", "flux-system", "./e", ""),
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: plain\n  namespace: flux-system\n",
		obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", "flux-system", "release"),
	))
	if got, want := Kustomizations(objs, "flux-system"), []string{"apps", "no-namespace", "zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("flux-system: %v, want %v", got, want)
	}
	if got, want := Kustomizations(objs, "team-a"), []string{"elsewhere", "no-namespace"}; !reflect.DeepEqual(got, want) {
		t.Errorf("team-a: %v, want %v", got, want)
	}
	if got := Kustomizations(nil, "flux-system"); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}

func TestDecode(t *testing.T) {
	cm := obj("v1", "ConfigMap", "default", "a")
	cases := []struct {
		name, file, data string
		want             []string
	}{
		{"one object", "x/a.yaml", cm, []string{"x/a.yaml: /ConfigMap default/a"}},
		{".yml too", "x/a.yml", cm, []string{"x/a.yml: /ConfigMap default/a"}},
		{"several documents, group parsed", "x/a.yaml", cm + "---\n" + obj("apps/v1", "Deployment", "", "d") + "---\n",
			[]string{"x/a.yaml: /ConfigMap default/a", "x/a.yaml: apps/Deployment d"}},
		{"kustomization.yaml", "x/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: k\nresources: [a.yaml]\n", nil},
		{"not yaml", "x/a.json", cm, nil},
		{"markdown", "x/README.md", cm, nil},
		{"invalid yaml", "x/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n", nil},
		{"not a mapping", "x/a.yaml", "- a\n- b\n", nil},
		{"no kind", "x/a.yaml", "apiVersion: v1\nmetadata:\n  name: a\n---\n" + cm, []string{"x/a.yaml: /ConfigMap default/a"}},
		{"no name", "x/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: b\n", nil},
		{"values, not objects", "x/values.yaml", "replicas: 2\n", nil},
		{"empty", "x/a.yaml", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decode(c.file, []byte(c.data))
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", lines(got), c.want)
			}
			for i := range got {
				if line(got[i]) != c.want[i] {
					t.Fatalf("got %v, want %v", lines(got), c.want)
				}
			}
		})
	}
	// The spec Reachable follows is kept.
	o := Decode("k.yaml", []byte(fluxKs("a", "flux-system", "GitRepository", "flux-system", "./apps", "")))
	if len(o) != 1 || o[0].spec["path"] != "./apps" {
		t.Fatalf("spec not kept: %+v", o)
	}
}

// Flux applies a Kustomization's targetNamespace over what its path's
// kustomization.yaml says, and kustomize an outer kustomization's
// namespace over an inner one's (the outer transformer runs last): the
// outermost setting wins.
func TestReachableOuterNamespaceWins(t *testing.T) {
	files := map[string][]byte{
		"clusters/dev/ks.yaml":     docs(fluxKs("web", "flux-system", "GitRepository", "flux-system", "./outer", "target")),
		"clusters/dev/plain.yaml":  docs(fluxKs("plain", "flux-system", "GitRepository", "flux-system", "./outer", "")),
		"outer/kustomization.yaml": []byte("namespace: outer\nresources: [../inner]\n"),
		"inner/kustomization.yaml": []byte("namespace: inner\nresources: [cm.yaml]\n"),
		"inner/cm.yaml":            docs(obj("v1", "ConfigMap", "", "a")),
	}
	var got []string
	for _, o := range Reachable(files, "clusters/dev", "flux-system", nil) {
		if o.Kind == "ConfigMap" {
			got = append(got, o.Namespace)
		}
	}
	sort.Strings(got)
	if want := []string{"outer", "target"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ConfigMap a lands in %v, want %v (targetNamespace over the kustomization's namespace, outer kustomization over inner)", got, want)
	}
}
