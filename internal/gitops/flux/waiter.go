package flux

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

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

// Diagnose lists the workloads of the engine's namespace that are not
// ready (gitops.Diagnoser).
func (w *Waiter) Diagnose(ctx context.Context) []string {
	return gitops.Diagnose(ctx, w.Client, w.Namespace)
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
