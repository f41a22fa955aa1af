package render

import (
	"path"
	"strings"
	"testing"
)

// rootBuild renders the local example and returns its root
// kustomization.yaml: the environment's path, the rendered data and Build.
func rootBuild(t *testing.T) (string, []byte, func([]byte, bool, map[string][]byte) ([]byte, error)) {
	t.Helper()
	env := load(t, "../../environments/local.hcl")
	files, err := Render(env, Options{AgeRecipient: recipient, CredentialsSecret: "flux-system"})
	if err != nil {
		t.Fatal(err)
	}
	root := env.GitOps.Repository.Path
	var found *File
	for i, f := range files {
		if f.Path == path.Join(root, "kustomization.yaml") {
			found = &files[i]
		} else if f.Build != nil {
			t.Errorf("%s has a Build: only the root kustomization.yaml is built from the repository", f.Path)
		}
	}
	if found == nil {
		t.Fatalf("no %s/kustomization.yaml rendered", root)
	}
	if found.Build == nil || found.SeedOnly {
		t.Fatalf("the root kustomization.yaml must have a Build and not be a seed file: %+v", found)
	}
	if !strings.HasPrefix(string(found.Data), managedMarker) || !strings.Contains(string(found.Data), "\n  - groundwork\n") {
		t.Fatalf("rendered root kustomization.yaml:\n%s", found.Data)
	}
	return root, found.Data, found.Build
}

// In a kustomization.yaml the user owns, groundwork's folder is added to
// their resources like their own entries, and nothing else changes.
func TestRootKustomizationEditsTheUsersFile(t *testing.T) {
	root, _, build := rootBuild(t)
	user := `# Flux entry points of local, kept by hand.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
    - apps.yaml   # the apps
    # infrastructure comes second
    - infrastructure.yaml
commonLabels:
  env: local   # all of it
`
	want := `# Flux entry points of local, kept by hand.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
    - apps.yaml   # the apps
    # infrastructure comes second
    - infrastructure.yaml
    - groundwork
commonLabels:
  env: local   # all of it
`
	obj := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	tree := map[string][]byte{
		root + "/kustomization.yaml":         []byte(user),
		root + "/apps.yaml":                  obj,
		root + "/infrastructure.yaml":        obj,
		root + "/other.yaml":                 obj, // not the user's choice: not listed
		root + "/tenants/kustomization.yaml": []byte("resources: [a.yaml]\n"),
	}
	got, err := build([]byte(user), false, tree)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	tree[root+"/kustomization.yaml"] = got
	again, err := build(got, false, tree)
	if err != nil || string(again) != string(got) {
		t.Fatalf("a second run must change nothing: %v\n%s", err, again)
	}

	// kustomize's own style, the last entry over two lines.
	user = "resources:\n- apps.yaml\n- \"infra\n  structure.yaml\"\n# end\n"
	want = "resources:\n- apps.yaml\n- \"infra\n  structure.yaml\"\n- groundwork\n# end\n"
	if got, err := build([]byte(user), false, nil); err != nil || string(got) != want {
		t.Errorf("got %q (%v), want %q", got, err, want)
	}

	// Already listed, in whatever spelling or style: nothing to do.
	for _, listed := range []string{
		"resources:\n- ./groundwork/\n- apps.yaml\n",
		"resources: [apps.yaml,   groundwork]   # mine\n",
	} {
		if got, err := build([]byte(listed), false, nil); err != nil || string(got) != listed {
			t.Errorf("groundwork already listed: %v\n%q", err, got)
		}
	}
}

// Without a kustomization.yaml of the user's, the root is groundwork's:
// its folder, then the user's entry points at the root, as Flux would apply
// them were there no kustomization.yaml; groundwork's own folders and files
// are not listed.
func TestRootKustomizationListsTheUsersEntries(t *testing.T) {
	root, rendered, build := rootBuild(t)
	flux := func(name string) []byte {
		return []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name +
			"\n  namespace: flux-system\nspec:\n  path: ./" + name + "\n")
	}
	obj := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	gw := func(body string) []byte { return []byte(managedMarker + "\n" + body) }
	tree := map[string][]byte{
		root + "/apps.yaml":           flux("apps"),
		root + "/infrastructure.yaml": flux("infrastructure"),
		root + "/values.yaml":         []byte("replicas: 2\n"), // no Kubernetes objects
		root + "/README.md":           []byte("# local\n"),
		root + "/.sops.yaml":          gw("creation_rules: []\n"),
		root + "/.hidden.yaml":        obj, // Flux skips hidden files
		// a sub-folder of the user's, with its own kustomization.yaml
		root + "/tenants/kustomization.yaml": []byte("resources:\n- team-a.yaml\n"),
		root + "/tenants/team-a.yaml":        obj,
		// groundwork's folders
		root + "/groundwork/kustomization.yaml":                gw("resources: [sync.yaml]\n"),
		root + "/groundwork/sync.yaml":                         gw(string(obj)),
		root + "/groundwork/infrastructure/kustomization.yaml": gw("resources: []\n"),
		root + "/apps/kustomization.yaml":                      []byte("resources:\n- shop.yaml\n"), // seeded, the user's since
		root + "/apps/shop.yaml":                               obj,
		root + "/secrets/README.md":                            []byte("# secrets\n"),
		root + "/secrets/db.yaml":                              obj,
		// groundwork's, from an earlier layout
		root + "/flux-system/kustomization.yaml": gw("resources:\n  - sync.yaml\n"),
		root + "/flux-system/sync.yaml":          gw(string(obj)),
		root + "/secrets.yaml":                   gw(string(obj)),
	}
	want := string(rendered) + "  - apps.yaml\n  - infrastructure.yaml\n  - tenants\n"

	got, err := build(nil, false, tree)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// groundwork's own root kustomization.yaml is rebuilt the same way,
	// and a second run changes nothing.
	tree[root+"/kustomization.yaml"] = got
	again, err := build(got, true, tree)
	if err != nil || string(again) != want {
		t.Fatalf("rebuilding groundwork's own file: %v\n%s", err, again)
	}
	// An older root of groundwork's is replaced.
	old := gw("resources:\n  - flux-system\n")
	tree[root+"/kustomization.yaml"] = old
	if got, err := build(old, true, tree); err != nil || string(got) != want {
		t.Fatalf("rebuilding an older root of groundwork's: %v\n%s", err, got)
	}
	// Each run makes a file of its own: a later run with other entries
	// does not change an earlier one's output.
	first, _ := build(nil, false, tree)
	tree[root+"/zz.yaml"] = flux("zz")
	if later, _ := build(nil, false, tree); string(later) != want+"  - zz.yaml\n" || string(first) != want {
		t.Fatalf("runs share their output:\n%s\n%s", first, later)
	}
	if _, again, _ := rootBuild(t); string(rendered) != string(again) {
		t.Fatalf("the rendered data was changed in place:\n%s", rendered)
	}
}

// An empty repository gets exactly the rendered file.
func TestRootKustomizationEmptyTree(t *testing.T) {
	root, rendered, build := rootBuild(t)
	for _, tree := range []map[string][]byte{nil, {}, {"clusters/prod/apps.yaml": []byte("apiVersion: v1\nkind: ConfigMap\n")}} {
		got, err := build(nil, false, tree)
		if err != nil || string(got) != string(rendered) {
			t.Errorf("tree %v under %s: %v\n%s\nwant:\n%s", tree, root, err, got, rendered)
		}
	}
	// groundwork's folder is never listed, even holding a file without
	// the header.
	tree := map[string][]byte{root + "/groundwork/extra.yaml": []byte("apiVersion: v1\nkind: ConfigMap\n")}
	if got, err := build(nil, false, tree); err != nil || string(got) != string(rendered) {
		t.Errorf("groundwork's folder listed: %v\n%s", err, got)
	}
	// The same from rootKustomization directly.
	direct := rootKustomization("clusters/dev", []byte("rendered\n"))
	if got, err := direct(nil, false, map[string][]byte{}); err != nil || string(got) != "rendered\n" {
		t.Errorf("direct: %v %q", err, got)
	}
}

// A kustomization.yaml of the user's groundwork cannot add its folder to
// is refused, with what to do by hand.
func TestRootKustomizationRefusesWhatItCannotEdit(t *testing.T) {
	_, _, build := rootBuild(t)
	for name, user := range map[string]string{
		"not a Kustomization":                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		"resources is a map":                 "kind: Kustomization\nresources:\n  apps: apps.yaml\n",
		"resources is a string":              "kind: Kustomization\nresources: apps.yaml\n",
		"not YAML":                           "resources: [apps.yaml\n",
		"a list, not a mapping":              "- apps.yaml\n- infrastructure.yaml\n",
		"a string, not a mapping":            "apps.yaml\n",
		"first document not a Kustomization": "apiVersion: v1\nkind: Secret\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
	} {
		got, err := build([]byte(user), false, nil)
		if err == nil {
			t.Errorf("%s: accepted, made:\n%s", name, got)
			continue
		}
		if !strings.Contains(err.Error(), `add "- groundwork"`) {
			t.Errorf("%s: the error does not say to add \"- groundwork\" by hand: %v", name, err)
		}
	}
}
