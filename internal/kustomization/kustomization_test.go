package kustomization

import (
	"reflect"
	"strings"
	"testing"
)

func TestAddResourcesKeepsTheUsersFile(t *testing.T) {
	user := `# Flux entry points of staging.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - infrastructure.yaml # controllers first
  - apps.yaml
patches:
  - path: patch.yaml
`
	got, err := AddResources([]byte(user), []string{"groundwork"})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Flux entry points of staging.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - infrastructure.yaml # controllers first
  - apps.yaml
  - groundwork
patches:
  - path: patch.yaml
`
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	again, err := AddResources(got, []string{"groundwork"})
	if err != nil || string(again) != string(got) {
		t.Fatalf("a second add must change nothing: %v\n%s", err, again)
	}
	if _, err := AddResources([]byte("resources: {a: b}\n"), []string{"x"}); err == nil {
		t.Error("resources that is not a list must be refused")
	}
	if _, err := AddResources([]byte("apiVersion: v1\nkind: ConfigMap\n"), []string{"x"}); err == nil {
		t.Error("a file that is not a Kustomization must be refused")
	}
	none, err := AddResources([]byte("kind: Kustomization\n"), []string{"./groundwork/"})
	if err != nil || string(none) != "kind: Kustomization\nresources:\n- ./groundwork/\n" {
		t.Fatalf("no resources yet: %v\n%q", err, none)
	}
	if got := Resources(none); !reflect.DeepEqual(got, []string{"./groundwork/"}) {
		t.Errorf("Resources: %v", got)
	}
}

func TestGeneratedIsWhatFluxWouldApply(t *testing.T) {
	obj := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	files := map[string][]byte{
		"clusters/dev/apps.yaml":                      obj,
		"clusters/dev/infra.yml":                      append(append([]byte{}, obj...), []byte("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n")...),
		"clusters/dev/values.yaml":                    []byte("replicas: 2\n"),
		"clusters/dev/.sops.yaml":                     []byte("creation_rules: []\n"),
		"clusters/dev/README.md":                      []byte("# dev\n"),
		"clusters/dev/flux-system/kustomization.yaml": []byte("resources: [gotk-sync.yaml]\n"),
		"clusters/dev/flux-system/gotk-sync.yaml":     obj,
		"clusters/dev/loose/x.yaml":                   obj,
		"clusters/dev/loose/deeper/y.yaml":            obj,
		"clusters/dev/groundwork/sync.yaml":           obj,
		"clusters/prod/z.yaml":                        obj,
	}
	got := Generated(files, "clusters/dev", func(p string) bool { return p == "clusters/dev/groundwork" })
	want := []string{"apps.yaml", "flux-system", "infra.yml", "loose/deeper/y.yaml", "loose/x.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestRemoveResourcesUndoesAdd(t *testing.T) {
	user := "# ours\nkind: Kustomization\nresources:\n  - apps.yaml # first\n  - infrastructure.yaml\n"
	added, err := AddResources([]byte(user), []string{"groundwork"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := RemoveResources(added, []string{"./groundwork"})
	if err != nil || string(back) != user {
		t.Fatalf("remove after add: %v\n%s", err, back)
	}
	same, err := RemoveResources([]byte(user), []string{"groundwork"})
	if err != nil || string(same) != user {
		t.Fatalf("nothing to remove must change nothing: %v\n%s", err, same)
	}
	flow, err := RemoveResources([]byte("resources: [a.yaml, groundwork]\n"), []string{"groundwork"})
	if err != nil || !strings.Contains(string(flow), "a.yaml") || strings.Contains(string(flow), "groundwork") {
		t.Fatalf("flow list: %v\n%s", err, flow)
	}
}
