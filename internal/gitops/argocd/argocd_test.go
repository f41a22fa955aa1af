package argocd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
)

func app(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

const repo = "http://git.example/fleet.git"

// TestNotReadyExplains checks that an Application that is not Synced and
// Healthy is named with its conditions, its last sync and the resources
// that fail.
func TestNotReadyExplains(t *testing.T) {
	w := &Waiter{RepoURL: repo}
	a := w.state(context.Background(), app(t, `
metadata: {name: shop}
spec:
  source: {repoURL: `+repo+`, path: clusters/dev/apps/shop}
status:
  sync: {status: OutOfSync, revision: abc123}
  health: {status: Degraded, message: "deployment web exceeded its progress deadline"}
  conditions:
    - type: SyncError
      message: "Failed sync attempt: one or more objects failed to apply"
  operationState:
    phase: Failed
    message: "one or more objects failed to apply, reason: namespaces \"shop\" not found"
    syncResult:
      resources:
        - {kind: ConfigMap, namespace: shop, name: shop, status: SyncFailed, message: "namespaces \"shop\" not found"}
  resources:
    - {kind: Deployment, namespace: shop, name: web, status: Synced, health: {status: Degraded, message: "progress deadline exceeded"}}
    - {kind: ConfigMap, namespace: shop, name: shop, status: OutOfSync}
    - {kind: Service, namespace: shop, name: web, status: Synced, health: {status: Healthy}}
`), "abc123")
	if a.Ready {
		t.Fatal("a Degraded, OutOfSync Application counted as ready")
	}
	w.Namespace, w.Release = "argocd", "argo-cd"
	err := &gitops.NotReadyError{Engine: w.Name(), Revision: "abc123", Waited: 90 * time.Second, Objects: []gitops.Object{a, {Kind: "Application", Name: "hello", Missing: true}}, Err: context.DeadlineExceeded, Hint: w.Hint(nil)}
	msg := err.Error()
	for _, want := range []string{
		"Argo CD had not applied abc123 after 1m30s",
		"Application shop: OutOfSync, Degraded: deployment web exceeded its progress deadline",
		"condition SyncError: Failed sync attempt",
		"last sync Failed: one or more objects failed to apply",
		"resource ConfigMap shop/shop (sync SyncFailed: namespaces \"shop\" not found)",
		"resource Deployment shop/web: Synced, Degraded (progress deadline exceeded)",
		"resource ConfigMap shop/shop: OutOfSync",
		"Application hello does not exist yet",
		"kubectl -n argocd logs statefulset/argo-cd-argocd-application-controller",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Service shop/web") {
		t.Errorf("a healthy, synced resource is listed:\n%s", msg)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the error does not wrap the context's")
	}
}

// TestRevision checks that an Application following the repository counts
// only at the awaited revision or a later one, and one from a chart
// repository regardless.
func TestRevision(t *testing.T) {
	later := map[string]bool{"new": true}
	w := &Waiter{RepoURL: repo, Revisions: &gitops.Revisions{IsAncestor: func(_ context.Context, a, d string) (bool, error) { return a == "abc" && later[d], nil }}}
	synced := func(url, rev string) *unstructured.Unstructured {
		return app(t, `
metadata: {name: x}
spec: {source: {repoURL: "`+url+`"}, destination: {namespace: x}}
status: {sync: {status: Synced, revision: "`+rev+`", comparedTo: {source: {repoURL: "`+url+`"}, destination: {namespace: x}}}, health: {status: Healthy}}
`)
	}
	ctx := context.Background()
	for _, c := range []struct {
		url, rev string
		ready    bool
	}{
		{repo, "abc", true},
		{strings.TrimSuffix(repo, ".git"), "abc", true},
		{repo, "old", false},
		{repo, "new", true},
		{"http://charts.example", "1.2.3", true},
	} {
		a := w.state(ctx, synced(c.url, c.rev), "abc")
		if a.Ready != c.ready || a.Stale == c.ready && c.url == repo {
			t.Errorf("%s at %s: ready %t stale %t, want ready %t", c.url, c.rev, a.Ready, a.Stale, c.ready)
		}
	}
}

func TestFluxStyleRevision(t *testing.T) {
	w := &Waiter{RepoURL: repo}
	u := app(t, `
metadata: {name: x}
spec: {source: {repoURL: "`+repo+`"}}
status: {sync: {status: Synced, revision: abc, comparedTo: {source: {repoURL: "`+repo+`"}}}, health: {status: Healthy}}
`)
	if a := w.state(context.Background(), u, "main@sha1:abc"); !a.Ready {
		t.Errorf("an Application at abc is not ready for main@sha1:abc: %s", a)
	}
}

func TestExpected(t *testing.T) {
	files := map[string][]byte{
		"clusters/dev/applications/root.yaml":       []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: dev-root\n  namespace: argocd\n"),
		"clusters/dev/applications/hello.yaml":      []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: hello\n  namespace: argocd\n"),
		"clusters/dev/applications/apps.yaml":       []byte("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: dev-apps\n"),
		"clusters/dev/applications/project.yaml":    []byte("apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: dev\n"),
		"clusters/dev/apps/README.md":               []byte("#"),
		"clusters/dev/apps/shop/kustomization.yaml": []byte("resources: []\n"),
		"clusters/dev/apps/blog/deep/x.yaml":        []byte("{}\n"),
		"clusters/other/apps/elsewhere/x.yaml":      []byte("{}\n"),
	}
	got := Expected(files, "clusters/dev", "argocd")
	if diff := cmp.Diff([]string{"blog", "dev-root", "hello", "shop"}, got); diff != "" {
		t.Errorf("Expected (-want +got):\n%s", diff)
	}
}

func TestRepositorySecret(t *testing.T) {
	s := RepositorySecret("argocd", "dev", repo, &gitrepo.Credentials{Token: "t0ken"})
	if s.GetName() != "repo-dev" || s.GetLabels()[SecretTypeLabel] != "repository" {
		t.Errorf("secret %s labels %v", s.GetName(), s.GetLabels())
	}
	data, _, _ := unstructured.NestedStringMap(s.Object, "data")
	// "git" and "t0ken", base64.
	if data["username"] != "Z2l0" || data["password"] != "dDBrZW4=" || data["type"] != "Z2l0" {
		t.Errorf("data %v", data)
	}
}

// TestComparedTo checks that an Application whose spec changed (a chart
// version bumped in Git) does not count as Synced until Argo CD compared
// the new spec.
func TestComparedTo(t *testing.T) {
	w := &Waiter{RepoURL: repo}
	a := w.state(context.Background(), app(t, `
metadata: {name: hello}
spec:
  source: {repoURL: http://charts.example, chart: hello, targetRevision: "0.2.0"}
  destination: {namespace: hello}
status:
  sync:
    status: Synced
    revision: "0.1.0"
    comparedTo:
      source: {repoURL: http://charts.example, chart: hello, targetRevision: "0.1.0"}
      destination: {namespace: hello}
  health: {status: Healthy}
`), "abc")
	if a.Ready || !a.Stale {
		t.Errorf("an Application compared at its old spec counts as ready: %+v", a)
	}
	if !strings.Contains(a.String(), "not yet compared") {
		t.Errorf("%s", a)
	}
}

// TestApplicationControllerName follows the upstream argo-cd chart's
// naming ("argo-cd.fullname" + component) and the hint that uses it.
func TestApplicationControllerName(t *testing.T) {
	for release, want := range map[string]string{
		"argo-cd":   "argo-cd-argocd-application-controller",
		"argocd":    "argocd-application-controller",
		"my-argocd": "my-argocd-application-controller",
		"gitops":    "gitops-argocd-application-controller",
		"":          "argo-cd-argocd-application-controller",
	} {
		if got := ApplicationController(release); got != want {
			t.Errorf("ApplicationController(%q) = %q, want %q", release, got, want)
		}
	}
	w := &Waiter{Namespace: "argocd", Release: "argo-cd"}
	if hint := w.Hint(nil); !strings.Contains(hint, "kubectl -n argocd logs statefulset/argo-cd-argocd-application-controller") {
		t.Errorf("hint: %s", hint)
	}
}

// TestComparedIgnoresZeroFields: Argo CD records a directory source with
// the fields its types add ("jsonnet: {}"); that is the same source.
func TestComparedIgnoresZeroFields(t *testing.T) {
	app := func(comparedDir string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(`
spec:
  source: {repoURL: "https://git.example/fleet.git", path: clusters/dev/secrets, targetRevision: main, directory: {recurse: true}}
  destination: {server: "https://kubernetes.default.svc"}
status:
  sync:
    comparedTo:
      source: {repoURL: "https://git.example/fleet.git", path: clusters/dev/secrets, targetRevision: main, directory: `+comparedDir+`}
      destination: {server: "https://kubernetes.default.svc"}
`), &u.Object); err != nil {
			t.Fatal(err)
		}
		return u
	}
	if !compared(app(`{recurse: true, jsonnet: {}}`)) {
		t.Error("a directory source with jsonnet: {} added is the same source")
	}
	if compared(app(`{recurse: false, jsonnet: {}}`)) {
		t.Error("recurse turned off is another source")
	}
}
