package flux

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/kubefake"
)

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	if u.GetNamespace() == "" {
		u.SetNamespace("flux-system")
	}
	return u
}

const (
	repo = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, generation: 1}
status:
  observedGeneration: 1
  artifact: {revision: "main@sha1:new"}
  conditions: [{type: Ready, status: "True", reason: Succeeded}]`
	infra = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, generation: 2}
spec: {sourceRef: {kind: GitRepository, name: flux-system}}
status:
  observedGeneration: 2
  lastAppliedRevision: "main@sha1:new"
  conditions: [{type: Ready, status: "True", reason: ReconciliationSucceeded}]`
	// apps waits for infra, and its status is of an older generation.
	apps = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, generation: 3}
spec: {sourceRef: {kind: GitRepository, name: flux-system}, dependsOn: [{name: infra}]}
status:
  observedGeneration: 2
  lastAppliedRevision: "main@sha1:old"
  conditions: [{type: Ready, status: "True", reason: ReconciliationSucceeded}]`
	// blocked waits for apps, which is not ready.
	blocked = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: blocked, generation: 1}
spec: {sourceRef: {kind: GitRepository, name: flux-system}, dependsOn: [{name: apps}]}
status:
  observedGeneration: 1
  conditions: [{type: Ready, status: "False", reason: DependencyNotReady, message: "dependency 'flux-system/apps' is not ready"}]`
	release = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: hello, generation: 1}
status:
  observedGeneration: 1
  lastAttemptedRevision: "0.2.0"
  conditions: [{type: Ready, status: "True", reason: UpgradeSucceeded}]`
)

func cluster(t *testing.T, docs ...string) *kubefake.Cluster {
	var objs []*unstructured.Unstructured
	for _, d := range docs {
		objs = append(objs, obj(t, d))
	}
	return kubefake.New(detachKinds, objs)
}

// TestLookCountsWhatAppliedTheRevision: a Kustomization is ready when its
// Ready condition is of its current generation and it applied the awaited
// revision; every HelmRelease counts; a required one that does not exist
// is missing.
func TestLookCountsWhatAppliedTheRevision(t *testing.T) {
	c := cluster(t, repo, infra, apps, blocked, release)
	w := &Waiter{Client: c.Client, Namespace: "flux-system"}
	objs, ok, err := w.Look(context.Background(), "main@sha1:new", []string{"infra", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("ready with apps behind")
	}
	got := map[string]gitops.Object{}
	for _, o := range objs {
		got[o.Kind+"/"+o.Name] = o
	}
	for name, ready := range map[string]bool{"GitRepository/flux-system": true, "Kustomization/infra": true, "Kustomization/apps": false,
		"Kustomization/blocked": false, "HelmRelease/hello": true} {
		if o, found := got[name]; !found || o.Ready != ready {
			t.Errorf("%s: %+v (found %t), want ready %t", name, o, found, ready)
		}
	}
	if o := got["Kustomization/extra"]; !o.Missing {
		t.Errorf("a required Kustomization that does not exist: %+v", o)
	}
	// apps' status is of an older generation: not ready whatever its
	// revision.
	if _, ok, _ := w.Look(context.Background(), "main@sha1:old", []string{"infra"}); ok {
		t.Error("ready with apps' status of an older generation")
	}
}

// TestLookCountsALaterRevision: what applied a revision pushed after the
// awaited one counts when Git says it descends from it, and only then.
func TestLookCountsALaterRevision(t *testing.T) {
	c := cluster(t, repo, infra, release)
	ctx := context.Background()
	plain := &Waiter{Client: c.Client, Namespace: "flux-system"}
	if _, ok, _ := plain.Look(ctx, "main@sha1:old", []string{"infra"}); ok {
		t.Error("without Git, a revision other than the awaited one counted")
	}
	git := &gitops.Revisions{IsAncestor: func(_ context.Context, a, d string) (bool, error) { return a == "old" && d == "new", nil }}
	later := &Waiter{Client: c.Client, Namespace: "flux-system", Revisions: git}
	if objs, ok, err := later.Look(ctx, "main@sha1:old", []string{"infra"}); err != nil || !ok {
		t.Errorf("main@sha1:new descends from the awaited main@sha1:old: %v %v", objs, err)
	}
	if _, ok, _ := later.Look(ctx, "main@sha1:other", []string{"infra"}); ok {
		t.Error("a revision Git does not put after the awaited one counted")
	}
}

// TestNudgeAsksForWhatCanProgress: the Kustomization whose dependencies
// are ready is asked to reconcile now; the one whose dependency is not is
// left to wait.
func TestNudgeAsksForWhatCanProgress(t *testing.T) {
	c := cluster(t, repo, infra, apps, blocked, release)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	w := &Waiter{Client: c.Client, Namespace: "flux-system", Now: func() time.Time { return now }}
	objs, _, err := w.Look(context.Background(), "main@sha1:new", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Nudge(context.Background(), objs)
	requested := map[string]bool{}
	for _, a := range c.Fake.Actions() {
		if a.GetVerb() == "patch" {
			requested[a.GetResource().Resource+"/"+a.(interface{ GetName() string }).GetName()] = true
		}
	}
	if !requested["kustomizations/apps"] || requested["kustomizations/blocked"] || requested["kustomizations/infra"] {
		t.Errorf("reconciliations requested: %v, want apps only", requested)
	}
	if !strings.Contains(w.Hint([]gitops.Object{{Kind: "HelmRelease"}}), "deploy/helm-controller") {
		t.Error("a HelmRelease not ready points at helm-controller's logs")
	}
}

// TestDetach deletes every Flux object with its finalizers dropped and
// suspended first, and the Secrets groundwork gave Flux; another Secret
// stays.
func TestDetach(t *testing.T) {
	ks := obj(t, infra)
	ks.SetFinalizers([]string{"finalizers.fluxcd.io"})
	c := kubefake.New(detachKinds, []*unstructured.Unstructured{obj(t, repo), ks, obj(t, release)},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: facts.AgeSecret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: facts.CredentialsSecret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "theirs"}})
	e := New(gitops.Deps{Env: &spec.Environment{Name: "dev", GitOps: spec.GitOps{Namespace: "flux-system"}}, Kube: c.Client})
	done, err := e.Detach(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Kustomization flux-system/infra", "GitRepository flux-system/flux-system", "HelmRelease flux-system/hello",
		"Secret flux-system/" + facts.AgeSecret, "Secret flux-system/" + facts.CredentialsSecret}
	if strings.Join(done, ",") != strings.Join(want, ",") {
		t.Errorf("detached %v, want %v", done, want)
	}
	if _, err := c.Clientset.CoreV1().Secrets("flux-system").Get(context.Background(), "theirs", metav1.GetOptions{}); err != nil {
		t.Errorf("a Secret groundwork did not create was deleted: %v", err)
	}
	// The patch (suspend, no finalizers) comes before each deletion.
	var verbs []string
	for _, a := range c.Fake.Actions() {
		if a.GetResource().Resource == "kustomizations" && a.GetVerb() != "list" {
			verbs = append(verbs, a.GetVerb())
		}
	}
	if strings.Join(verbs, ",") != "patch,delete" {
		t.Errorf("Kustomization actions %v, want patch then delete", verbs)
	}
}
