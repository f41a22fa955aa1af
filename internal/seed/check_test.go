package seed

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

// These tests read real bare repositories made with the real git binary.

func git(t *testing.T, dir string, args ...string) string { return gittest.Git(t, dir, args...) }

// userRepo is a bare repository holding files, committed as a user would.
func userRepo(t *testing.T, files map[string]string) (bare, url string) {
	t.Helper()
	bare, url = gittest.Bare(t)
	gittest.Commit(t, bare, "main", files)
	return bare, url
}

func check(t *testing.T, env *spec.Environment, adopt ...string) *Check {
	t.Helper()
	r, err := New(Options{Env: env, Adopt: adopt})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckRepositoryFlux: a user's .sops.yaml is a conflict (not once the
// file is handed over), a user's Kustomizations are found for the wait, and
// a HelmRepository the user declares under the name of an addon's collides.
// The check creates no key.
func TestCheckFlux(t *testing.T) {
	bare, url := userRepo(t, map[string]string{
		"clusters/dev/.sops.yaml": "creation_rules: []\n",
		"clusters/dev/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps/dev
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
		"apps/dev/kustomization.yaml": "resources:\n  - repo.yaml\n",
		"apps/dev/repo.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: flux2
  namespace: flux-system
spec:
  url: https://example.invalid/charts
`,
	})
	head := git(t, bare, "rev-parse", "main")
	env := spectest.EnvOn(t, url, spec.EngineFlux)
	c := check(t, env)
	if !c.KeyPending {
		t.Error("the key does not exist: the check must say so")
	}
	if _, err := os.Stat(env.Secrets.KeyStore.Path); !os.IsNotExist(err) {
		t.Errorf("the check created the age key: %v", err)
	}
	var ce *ConflictError
	if err := c.Err(); !errors.As(err, &ce) {
		t.Fatalf("want a *ConflictError, got %v", err)
	}
	if len(ce.Files) != 1 || ce.Files[0].Path != "clusters/dev/.sops.yaml" {
		t.Errorf("file conflicts: %+v", ce.Files)
	}
	if len(ce.Objects) != 1 || ce.Objects[0].Object.String() != "HelmRepository flux-system/flux2" || ce.Objects[0].Object.File != "apps/dev/repo.yaml" {
		t.Errorf("collisions: %+v", ce.Objects)
	}
	msg := ce.Error()
	for _, want := range []string{"clusters/dev/.sops.yaml", "--adopt-file", "HelmRepository flux-system/flux2, in apps/dev/repo.yaml", "nothing was changed in the cluster"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	if !slices.Contains(c.Declared, "apps") || !slices.Contains(c.Declared, "groundwork-apps") {
		t.Errorf("declared Kustomizations (groundwork's and the user's apps): %v", c.Declared)
	}
	if len(c.Retiring) != 0 {
		t.Errorf("nothing to retire in a new environment: %v", c.Retiring)
	}
	adopted := check(t, env, "clusters/dev/.sops.yaml")
	for _, ch := range adopted.Preview.Changes {
		if ch.Path == "clusters/dev/.sops.yaml" && ch.Action != gitrepo.ActionAdopt {
			t.Errorf("handed over: %s", ch.Action)
		}
	}
	if got := git(t, bare, "rev-parse", "main"); got != head {
		t.Errorf("the check moved the branch")
	}
}

// TestCheckRepositoryRetiring: files of an older groundwork that the change
// removes declare Kustomizations it no longer declares.
func TestCheckRetiring(t *testing.T) {
	k := func(name string) string {
		return "# Managed by groundwork\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\nspec:\n  path: ./clusters/dev/" + name + "\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
	}
	_, url := userRepo(t, map[string]string{
		"clusters/dev/apps.yaml":           k("apps"),
		"clusters/dev/infrastructure.yaml": k("infrastructure"),
		"clusters/dev/kustomization.yaml":  "# Managed by groundwork\nresources:\n  - apps.yaml\n  - infrastructure.yaml\n",
	})
	c := check(t, spectest.EnvOn(t, url, spec.EngineFlux))
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Retiring, []string{"apps", "infrastructure"}) {
		t.Errorf("retiring: %v", c.Retiring)
	}
	if slices.Contains(c.Declared, "apps") {
		t.Errorf("the retired Kustomizations are not awaited: %v", c.Declared)
	}
}

// TestCheckRepositoryArgoCD: under Argo CD, a user's file in applications/
// and an Application named like groundwork's root stop up the same way.
func TestCheckArgoCD(t *testing.T) {
	_, url := userRepo(t, map[string]string{
		"clusters/dev/applications/root.yaml": "kind: Application # ours\n",
		"clusters/dev/apps/team/app.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: dev-root
  namespace: argocd
spec: {}
`,
		// The user's own Application for a folder under apps/: the
		// ApplicationSet would make a second one.
		"clusters/dev/argo/shop.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
spec:
  source:
    path: ./clusters/dev/apps/shop
`,
		"clusters/dev/apps/shop/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\n  namespace: shop\n",
	})
	c := check(t, spectest.EnvOn(t, url, spec.EngineArgoCD))
	var ce *ConflictError
	if err := c.Err(); !errors.As(err, &ce) {
		t.Fatalf("want a *ConflictError, got %v", err)
	}
	if len(ce.Files) != 1 || ce.Files[0].Path != "clusters/dev/applications/root.yaml" {
		t.Errorf("file conflicts: %+v", ce.Files)
	}
	if len(ce.Objects) != 2 || ce.Objects[0].Object.String() != "Application argocd/dev-root" || ce.Objects[1].Object.String() != "Application argocd/shop" ||
		!strings.Contains(ce.Objects[1].Ours.File, "clusters/dev/apps/shop") {
		t.Errorf("collisions: %+v", ce.Objects)
	}
}

// TestCheckRepositoryBootstrap: a flux bootstrap folder collides (and says
// so); with TakeOverBootstrap its three files are removed in the seed
// commit, the user's root kustomization.yaml swaps flux-system for
// groundwork, and nothing collides.
func TestCheckBootstrap(t *testing.T) {
	sync := `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  url: ssh://git@example.invalid/fleet
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  path: ./clusters/dev
  sourceRef:
    kind: GitRepository
    name: flux-system
`
	root := "# ours\nresources:\n  - flux-system\n  - apps.yaml\n"
	_, url := userRepo(t, map[string]string{
		"clusters/dev/flux-system/gotk-components.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n",
		"clusters/dev/flux-system/gotk-sync.yaml":       sync,
		"clusters/dev/flux-system/kustomization.yaml":   "resources:\n- gotk-components.yaml\n- gotk-sync.yaml\n",
		"clusters/dev/kustomization.yaml":               root,
		"clusters/dev/apps.yaml":                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\n",
	})
	env := spectest.EnvOn(t, url, spec.EngineFlux)
	var ce *ConflictError
	if err := check(t, env).Err(); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--take-over-bootstrap") {
		t.Fatalf("a bootstrap repository must collide and point at --take-over-bootstrap: %v", err)
	}
	r, err := New(Options{Env: env, TakeOverBootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("taking over must not collide: %v", err)
	}
	if c.Bootstrap != "clusters/dev/flux-system" {
		t.Errorf("bootstrap folder: %q", c.Bootstrap)
	}
	got := map[string]gitrepo.Action{}
	var rootAfter string
	for _, ch := range c.Preview.Changes {
		got[ch.Path] = ch.Action
		if ch.Path == "clusters/dev/kustomization.yaml" {
			rootAfter = string(ch.New)
		}
	}
	for _, f := range []string{"gotk-components.yaml", "gotk-sync.yaml", "kustomization.yaml"} {
		if got["clusters/dev/flux-system/"+f] != gitrepo.ActionRemove {
			t.Errorf("%s: %s, want remove", f, got["clusters/dev/flux-system/"+f])
		}
	}
	if want := "# ours\nresources:\n  - apps.yaml\n  - groundwork\n"; rootAfter != want {
		t.Errorf("root kustomization.yaml:\n%s\nwant:\n%s", rootAfter, want)
	}
}
