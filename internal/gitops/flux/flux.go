package flux

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/render"
)

// Names and kinds of the objects groundwork points Flux with.
const (
	SyncName = "flux-system"
	// SyncFile is where the sync objects are, under the environment's path.
	SyncFile = "groundwork/sync.yaml"
	// LegacySyncFile is where groundwork before v0.x kept them (its files
	// were at the environment's root; up moves them into groundwork/).
	LegacySyncFile      = "flux-system/sync.yaml"
	ReconcileAnnotation = "reconcile.fluxcd.io/requestedAt"
	// PruneAnnotation with the value "disabled" keeps an object from being
	// garbage-collected by the Kustomization that applied it.
	PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	// RetiredAnnotation marks a Kustomization of groundwork's that a newer
	// layout no longer declares: up keeps it from being pruned (which would
	// delete what it applied) until its successor applied the same
	// objects, then deletes it without garbage collection.
	RetiredAnnotation = "groundwork.dev/retired"
)

// API kinds.
var (
	GitRepositoryKind  = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
	KustomizationKind  = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	HelmReleaseKind    = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}
	HelmRepositoryKind = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"}
)

// SyncObjects returns the GitRepository and Kustomization that the rendered
// repository declares in flux-system/sync.yaml under repoPath.
func SyncObjects(files []render.File, repoPath string) ([]*unstructured.Unstructured, error) {
	want := path.Join(repoPath, SyncFile)
	for _, f := range files {
		if f.Path == want {
			return kube.Decode(f.Data)
		}
	}
	return nil, fmt.Errorf("the rendered repository has no %s", want)
}

// Kustomizations lists the names of the Flux Kustomizations the rendered
// files declare.
func Kustomizations(files []render.File) ([]string, error) {
	var names []string
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".yaml") {
			continue
		}
		objs, err := kube.Decode(f.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		for _, o := range objs {
			if o.GroupVersionKind() == KustomizationKind {
				names = append(names, o.GetName())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeclaredKustomizations lists the Kustomizations in namespace that the
// files (a repository snapshot: path to content) declare.
func DeclaredKustomizations(files map[string][]byte, namespace string) []string {
	var names []string
	seen := map[string]bool{}
	for p, b := range files {
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
			continue
		}
		objs, err := kube.Decode(b)
		if err != nil {
			continue // not every file is a manifest the controllers read
		}
		for _, o := range objs {
			if o.GroupVersionKind() == KustomizationKind && o.GetNamespace() == namespace && !seen[o.GetName()] {
				seen[o.GetName()] = true
				names = append(names, o.GetName())
			}
		}
	}
	sort.Strings(names)
	return names
}

// Waiter waits until Flux has applied a revision.
type Waiter struct {
	Client    *kube.Client
	Namespace string
	// Poll is the interval between looks; 0 means 250ms.
	Poll time.Duration
	// Renudge is how long a requested reconciliation may go unanswered
	// before it is requested again; 0 means 10s. A request Flux has
	// answered (status.lastHandledReconcileAt) while the object is still
	// not ready is repeated after a second instead: Flux would otherwise
	// retry on its own interval (30s for a dependency that was not ready).
	Renudge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Revisions tells whether a revision applied is the awaited one or
	// came after it (nil: only the awaited one counts).
	Revisions *gitops.Revisions

	requested map[string]reconcileRequest
	last      *look // the last look, for Nudge
}

// Name is the engine's name.
func (w *Waiter) Name() string { return "Flux" }

// Look looks once: it reports the state of the GitRepository, of every
// Kustomization (the required ones and every other in the namespace) and
// of every HelmRelease, and whether all have applied revision and are
// ready.
func (w *Waiter) Look(ctx context.Context, revision string, required []string) ([]gitops.Object, bool, error) {
	l, err := w.look(ctx, revision, required)
	if err != nil {
		return nil, false, err
	}
	w.last = l
	return l.objs, l.ok, nil
}

// Status looks once without a revision to compare with: objects sourced
// from the sync GitRepository count as ready when they applied the revision
// the GitRepository fetched.
func (w *Waiter) Status(ctx context.Context) ([]gitops.Object, bool, error) {
	l, err := w.look(ctx, "", nil)
	if err != nil {
		return nil, false, err
	}
	return l.objs, l.ok, nil
}

// reconcileRequest is a reconciliation groundwork asked for: when, and
// the annotation value Flux echoes in status.lastHandledReconcileAt once it
// handled it.
type reconcileRequest struct {
	at    time.Time
	token string
}

// answeredNudge is how soon a request Flux answered without getting ready
// is repeated.
const answeredNudge = time.Second

type look struct {
	repo, ks, hr dynamic.ResourceInterface
	src          gitops.Object
	srcObj       *unstructured.Unstructured
	byName       map[string]*unstructured.Unstructured // Kustomizations
	hrByName     map[string]*unstructured.Unstructured // HelmReleases
	objs         []gitops.Object
	ok           bool
}

func (w *Waiter) look(ctx context.Context, revision string, required []string) (*look, error) {
	repo, err := w.Client.Resource(GitRepositoryKind, w.Namespace)
	if err != nil {
		return nil, err
	}
	ks, err := w.Client.Resource(KustomizationKind, w.Namespace)
	if err != nil {
		return nil, err
	}
	var objs []gitops.Object
	src := gitops.Object{Kind: "GitRepository", Name: SyncName, Missing: true}
	var srcObj *unstructured.Unstructured
	if u, err := repo.Get(ctx, SyncName, metav1.GetOptions{}); err == nil {
		srcObj = u
		src = state(u, "GitRepository")
		src.Revision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
		if revision == "" {
			revision = src.Revision
		}
		src.Ready = src.Ready && w.Revisions.AtLeast(ctx, revision, src.Revision)
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	objs = append(objs, src)
	list, err := ks.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	byName := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		if list.Items[i].GetAnnotations()[RetiredAnnotation] != "" {
			continue // on its way out: see Retire
		}
		byName[list.Items[i].GetName()] = &list.Items[i]
	}
	names := append([]string(nil), required...)
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		u := byName[n]
		if u == nil {
			objs = append(objs, gitops.Object{Kind: "Kustomization", Name: n, Missing: true})
			continue
		}
		o := state(u, "Kustomization")
		o.Revision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
		if fromSync(u) {
			o.Ready = o.Ready && w.Revisions.AtLeast(ctx, revision, o.Revision)
		}
		objs = append(objs, o)
	}
	// The HelmReleases (addons, Flux's own): each ready for its current
	// spec. A Kustomization applies them before helm-controller acts, so
	// a HelmRelease its revision changed is not ready until the release is.
	hrs, hrRes, hrByName, err := w.helmReleases(ctx)
	if err != nil {
		return nil, err
	}
	objs = append(objs, hrs...)
	all := revision != ""
	for _, o := range objs {
		all = all && o.Ready
	}
	return &look{repo: repo, ks: ks, hr: hrRes, src: src, srcObj: srcObj, byName: byName, hrByName: hrByName, objs: objs, ok: all}, nil
}

// helmReleases reads the HelmReleases in the namespace that are not
// suspended. The cluster may not serve the kind yet (the chart not
// installed): then there are none.
func (w *Waiter) helmReleases(ctx context.Context) ([]gitops.Object, dynamic.ResourceInterface, map[string]*unstructured.Unstructured, error) {
	ri, err := w.Client.Resource(HelmReleaseKind, w.Namespace)
	switch {
	case meta.IsNoMatchError(err):
		return nil, nil, nil, nil // not served: the chart is not installed yet
	case err != nil:
		return nil, nil, nil, err
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var objs []gitops.Object
	byName := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		u := &list.Items[i]
		if suspended, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); suspended {
			continue
		}
		o := state(u, "HelmRelease")
		// The chart version helm-controller last attempted.
		o.Revision, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
		objs = append(objs, o)
		byName[u.GetName()] = u
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	return objs, ri, byName, nil
}

// Wait looks until everything is ready at revision or ctx ends; then it
// returns a *gitops.NotReadyError that says what is not ready and why.
func (w *Waiter) Wait(ctx context.Context, revision string, required []string) error {
	return gitops.Wait(ctx, w, revision, required, gitops.WaitOptions{Poll: w.Poll, Now: w.Now})
}

// Hint names the controller whose logs say more.
func (w *Waiter) Hint(notReady []gitops.Object) string {
	controller := "kustomize-controller"
	for _, o := range notReady {
		if o.Kind == "HelmRelease" {
			controller = "helm-controller"
		}
	}
	return fmt.Sprintf("The controllers' logs say more: kubectl -n %s logs deploy/%s", w.Namespace, controller)
}

// Nudge acts on the last look (see nudge).
func (w *Waiter) Nudge(ctx context.Context, _ []gitops.Object) {
	if w.last != nil {
		w.nudge(ctx, w.last)
	}
}

// nudge asks for reconciliation of the GitRepository while it has not
// fetched the revision, and of each Kustomization whose dependencies are
// ready but that has not applied: Flux would otherwise retry a Kustomization
// whose dependency was not ready only after its requeue interval (30s).
func (w *Waiter) nudge(ctx context.Context, l *look) {
	if !l.src.Missing && !l.src.Ready {
		w.request(ctx, l.repo, "GitRepository/"+SyncName, l.srcObj)
		return
	}
	w.nudgeKind(ctx, l.objs, "Kustomization", l.ks, l.byName)
	// helm-controller re-examines a HelmRelease whose dependency was not
	// ready only every 30s (--requeue-dependency).
	w.nudgeKind(ctx, l.objs, "HelmRelease", l.hr, l.hrByName)
}

// nudgeKind requests reconciliation of each object of kind that is not
// ready while its dependencies (spec.dependsOn) are.
func (w *Waiter) nudgeKind(ctx context.Context, objs []gitops.Object, kind string, ri dynamic.ResourceInterface, byName map[string]*unstructured.Unstructured) {
	if ri == nil {
		return
	}
	ready := map[string]bool{}
	for _, o := range objs {
		if o.Kind == kind && o.Ready {
			ready[o.Name] = true
		}
	}
	for _, o := range objs {
		u := byName[o.Name]
		if o.Kind != kind || o.Ready || u == nil {
			continue
		}
		deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
		blocked := false
		for _, d := range deps {
			m, _ := d.(map[string]any)
			name, _ := m["name"].(string)
			if ns, _ := m["namespace"].(string); ns != "" && ns != w.Namespace {
				continue
			}
			blocked = blocked || !ready[name]
		}
		if !blocked {
			w.request(ctx, ri, kind+"/"+o.Name, u)
		}
	}
}

// request asks Flux to reconcile u now, unless groundwork asked already
// and Flux has neither answered nor had Renudge to do so.
func (w *Waiter) request(ctx context.Context, ri dynamic.ResourceInterface, key string, u *unstructured.Unstructured) {
	now := w.now()()
	nudge := w.Renudge
	if nudge == 0 {
		nudge = 10 * time.Second
	}
	if w.requested == nil {
		w.requested = map[string]reconcileRequest{}
	}
	if last, ok := w.requested[key]; ok {
		handled, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		since := now.Sub(last.at)
		if since < nudge && (handled != last.token || since < answeredNudge) {
			return
		}
	}
	token := now.Format(time.RFC3339Nano)
	w.requested[key] = reconcileRequest{at: now, token: token}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ReconcileAnnotation, token)
	// A failed nudge only costs time: the controllers reconcile on their
	// own interval anyway.
	_, _ = ri.Patch(ctx, u.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
}

// Retire marks the Kustomizations named (those that exist) as retired and
// not to be pruned, before the commit that stops declaring them is pushed:
// the Kustomization that applied them then leaves them, and what they
// applied, in place. See DeleteRetired.
func Retire(ctx context.Context, c *kube.Client, namespace string, names []string) ([]string, error) {
	ri, err := c.Resource(KustomizationKind, namespace)
	if err != nil {
		return nil, err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"disabled",%q:"true"}}}`, PruneAnnotation, RetiredAnnotation)
	var done []string
	for _, n := range names {
		_, err := ri.Patch(ctx, n, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return done, fmt.Errorf("mark Kustomization %s/%s retired: %w", namespace, n, err)
		}
		done = append(done, n)
	}
	return done, nil
}

// DeleteRetired deletes the retired Kustomizations without garbage
// collection (prune off and suspended first, so that kustomize-controller's
// finalizer deletes nothing they applied). Call it once their successors
// applied the revision that no longer declares them.
func DeleteRetired(ctx context.Context, c *kube.Client, namespace string) ([]string, error) {
	ri, err := c.Resource(KustomizationKind, namespace)
	if err != nil {
		return nil, err
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var done []string
	for _, u := range list.Items {
		if u.GetAnnotations()[RetiredAnnotation] == "" {
			continue
		}
		n := u.GetName()
		if _, err := ri.Patch(ctx, n, types.MergePatchType, []byte(`{"spec":{"prune":false,"suspend":true}}`), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
			return done, fmt.Errorf("turn off pruning of retired Kustomization %s/%s: %w", namespace, n, err)
		}
		if err := ri.Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return done, fmt.Errorf("delete retired Kustomization %s/%s: %w", namespace, n, err)
		}
		done = append(done, n)
	}
	// Gone when kustomize-controller's finalizer has run (with pruning
	// off, it deletes nothing else).
	for _, n := range done {
		for {
			_, err := ri.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return done, fmt.Errorf("retired Kustomization %s/%s is still being deleted (its finalizer has not run; is kustomize-controller running?): %w", namespace, n, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return done, nil
}

// RequestReconcile asks Flux to reconcile the sync GitRepository now.
func RequestReconcile(ctx context.Context, c *kube.Client, namespace string, now time.Time) error {
	ri, err := c.Resource(GitRepositoryKind, namespace)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ReconcileAnnotation, now.Format(time.RFC3339Nano))
	if _, err = ri.Patch(ctx, SyncName, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
		return err
	}
	// The Helm repositories' indexes too: a chart version published since
	// their last fetch (interval 1h) would otherwise stay unknown, and a
	// version bump could not be installed until then.
	// A nudge only saves time: one that fails is not an error.
	hr, err := c.Resource(HelmRepositoryKind, namespace)
	if err != nil {
		return nil
	}
	list, err := hr.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	for _, u := range list.Items {
		_, _ = hr.Patch(ctx, u.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
	}
	return nil
}

func (w *Waiter) now() func() time.Time {
	if w.Now != nil {
		return w.Now
	}
	return time.Now
}

// state reads the Ready condition, counting it only when it describes the
// object's current generation.
func state(u *unstructured.Unstructured, kind string) gitops.Object {
	o := gitops.Object{Kind: kind, Name: u.GetName()}
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		o.Reason, _ = m["reason"].(string)
		o.Message, _ = m["message"].(string)
		o.Ready = m["status"] == "True" && observed == u.GetGeneration()
	}
	if o.Reason == "" && len(conds) == 0 {
		o.Reason = "NotReconciledYet"
	}
	return o
}

// fromSync reports whether a Kustomization applies the sync GitRepository.
func fromSync(u *unstructured.Unstructured) bool {
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
	return kind == "GitRepository" && name == SyncName && (ns == "" || ns == u.GetNamespace())
}
