package argocd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Waiter waits until Argo CD has synced a revision of the environment's
// repository: every required Application (and every other in the
// namespace) Synced and Healthy, those that follow the repository at the
// revision or a later one.
type Waiter struct {
	Client    *kube.Client
	Namespace string
	// Release is the Helm release of the argo-cd chart (it names the
	// workloads).
	Release string
	// RepoURL is the environment's repository: Applications sourced from
	// it must be at the awaited revision.
	RepoURL string
	// Poll is the interval between looks; 0 means 500ms.
	Poll time.Duration
	// Refresh is how often an Application that is behind is asked to
	// compare with Git again; 0 means 10s.
	Refresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Revisions tells whether a revision applied is the awaited one or
	// came after it (nil: only the awaited one counts).
	Revisions *gitops.Revisions

	requested map[string]time.Time
}

// Diagnose lists the workloads of the engine's namespace that are not
// ready (gitops.Diagnoser).
func (w *Waiter) Diagnose(ctx context.Context) []string {
	return gitops.Diagnose(ctx, w.Client, w.Namespace)
}

// Name is the engine's name.
func (w *Waiter) Name() string { return "Argo CD" }

// Hint names the controller whose logs say more.
func (w *Waiter) Hint([]gitops.Object) string {
	return fmt.Sprintf("The controller's logs say more: kubectl -n %s logs statefulset/%s", w.Namespace, ApplicationController(w.Release))
}

func (w *Waiter) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Look reports the state of every required Application and every other one
// in the namespace, and whether all are Synced and Healthy (at revision,
// for those that follow the repository).
func (w *Waiter) Look(ctx context.Context, revision string, required []string) ([]gitops.Object, bool, error) {
	ri, err := w.Client.Resource(ApplicationKind, w.Namespace)
	if err != nil {
		return nil, false, err
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, false, err
	}
	byName := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		byName[list.Items[i].GetName()] = &list.Items[i]
	}
	names := append([]string{}, required...)
	isRequired := map[string]bool{}
	for _, n := range required {
		isRequired[n] = true
	}
	for n, u := range byName {
		// An Application Git no longer declares and that is being
		// deleted (its finalizer waits for a running operation) is on
		// its way out, not part of what is awaited.
		if u.GetDeletionTimestamp() != nil && !isRequired[n] {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var apps []gitops.Object
	ok := true
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		u := byName[n]
		if u == nil {
			apps = append(apps, gitops.Object{Kind: ApplicationKind.Kind, Name: n, Missing: true})
			ok = false
			continue
		}
		a := w.state(ctx, u, revision)
		ok = ok && a.Ready
		apps = append(apps, a)
	}
	return apps, ok, nil
}

// state reads an Application's sync and health status.
func (w *Waiter) state(ctx context.Context, u *unstructured.Unstructured, revision string) gitops.Object {
	a := gitops.Object{Kind: ApplicationKind.Kind, Name: u.GetName()}
	a.Sync, _, _ = unstructured.NestedString(u.Object, "status", "sync", "status")
	a.Health, _, _ = unstructured.NestedString(u.Object, "status", "health", "status")
	a.Message, _, _ = unstructured.NestedString(u.Object, "status", "health", "message")
	a.Revision, _, _ = unstructured.NestedString(u.Object, "status", "sync", "revision")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		a.Details = append(a.Details, fmt.Sprintf("condition %v: %v", m["type"], strings.TrimSpace(fmt.Sprint(m["message"]))))
	}
	var resources []string
	if phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase"); phase != "" {
		msg, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "message")
		a.Details = append(a.Details, "last sync "+strings.TrimSpace(phase+": "+msg))
		results, _, _ := unstructured.NestedSlice(u.Object, "status", "operationState", "syncResult", "resources")
		for _, r := range results {
			m, _ := r.(map[string]any)
			if st, _ := m["status"].(string); st != "" && st != "Synced" && st != "Pruned" && st != "PruneSkipped" {
				resources = append(resources, fmt.Sprintf("resource %s (sync %s: %v)", resourceName(m), st, m["message"]))
			}
		}
	}
	res, _, _ := unstructured.NestedSlice(u.Object, "status", "resources")
	for _, r := range res {
		m, _ := r.(map[string]any)
		st, _ := m["status"].(string)
		h, _ := m["health"].(map[string]any)
		hs, _ := h["status"].(string)
		if st != "OutOfSync" && (hs == "" || hs == "Healthy") {
			continue
		}
		s := "resource " + resourceName(m) + ": " + orUnknown(st)
		if hs != "" {
			s += ", " + hs
		}
		if hm, _ := h["message"].(string); hm != "" {
			s += " (" + hm + ")"
		}
		resources = append(resources, s)
	}
	a.Details = append(a.Details, resources...)
	a.Ready = a.Sync == "Synced" && a.Health == "Healthy"
	if a.Ready && (!compared(u) || w.followsRepo(u) && !w.Revisions.AtLeast(ctx, revision, a.Revision)) {
		a.Ready, a.Stale = false, true
	}
	if a.Ready {
		if phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase"); phase == "Running" {
			a.Ready = false
		}
	}
	return a
}

// compared reports whether the sync status describes the Application's
// current spec: Argo CD records the source(s) and destination it compared
// (a chart version bumped in Git is Synced only once compared).
// Fields at their zero value are left out on both sides: Argo CD records
// the source as its Go types serialise it (a directory source gains
// "jsonnet: {}"), not as written.
func compared(u *unstructured.Unstructured) bool {
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	to, _, _ := unstructured.NestedMap(u.Object, "status", "sync", "comparedTo")
	for _, k := range []string{"source", "sources", "destination"} {
		if !equality.Semantic.DeepEqual(withoutZero(spec[k]), withoutZero(to[k])) {
			return false
		}
	}
	return true
}

// withoutZero is v without the map entries and list items at their zero
// value (nil, "", false, 0, or a map or list left empty); nil when nothing
// is left.
func withoutZero(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x = withoutZero(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, x := range v {
			if x = withoutZero(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case int64:
		if v == 0 {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	}
	return v
}

func resourceName(m map[string]any) string {
	s := fmt.Sprint(m["kind"])
	if ns, _ := m["namespace"].(string); ns != "" {
		return s + " " + ns + "/" + fmt.Sprint(m["name"])
	}
	return s + " " + fmt.Sprint(m["name"])
}

// followsRepo reports whether the Application's source is the
// environment's repository.
func (w *Waiter) followsRepo(u *unstructured.Unstructured) bool {
	url, _, _ := unstructured.NestedString(u.Object, "spec", "source", "repoURL")
	return w.RepoURL != "" && normalise(url) == normalise(w.RepoURL)
}

func normalise(u string) string { return strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git") }

// Wait looks until every Application is Synced and Healthy or ctx ends; it
// asks the controller to refresh Applications that are behind, so a new
// commit is seen without waiting for the reconciliation timeout. On timeout
// it returns a *gitops.NotReadyError.
func (w *Waiter) Wait(ctx context.Context, revision string, required []string) error {
	poll := w.Poll
	if poll == 0 {
		poll = 500 * time.Millisecond
	}
	return gitops.Wait(ctx, w, revision, required, gitops.WaitOptions{Poll: poll, Now: w.Now})
}

// Nudge asks Argo CD to refresh the Applications that are behind (and the
// ApplicationSets to generate the missing ones), each at most every
// Refresh.
func (w *Waiter) Nudge(ctx context.Context, apps []gitops.Object) {
	every := w.Refresh
	if every == 0 {
		every = 10 * time.Second
	}
	if w.requested == nil {
		w.requested = map[string]time.Time{}
	}
	now := w.now()
	for _, a := range apps {
		if a.Missing {
			// The ApplicationSet looks for new app folders on its own
			// interval: ask it to look now.
			if t, ok := w.requested["/applicationsets"]; !ok || now.Sub(t) >= every {
				w.requested["/applicationsets"] = now
				_ = RequestApplicationSetRefresh(ctx, w.Client, w.Namespace)
			}
			continue
		}
		if a.Ready {
			continue
		}
		if t, ok := w.requested[a.Name]; ok && now.Sub(t) < every {
			continue
		}
		w.requested[a.Name] = now
		// A failed refresh only costs time: the controller compares on
		// its own schedule anyway.
		_ = RequestRefresh(ctx, w.Client, w.Namespace, a.Name)
	}
}

// ApplicationSetRefreshAnnotation asks the ApplicationSet controller to
// run an ApplicationSet's generators now.
const ApplicationSetRefreshAnnotation = "argocd.argoproj.io/application-set-refresh"

// RequestApplicationSetRefresh asks for every ApplicationSet in the
// namespace to be generated again now.
func RequestApplicationSetRefresh(ctx context.Context, c *kube.Client, namespace string) error {
	ri, err := c.Resource(ApplicationSetKind, namespace)
	if err != nil {
		return err
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, ApplicationSetRefreshAnnotation)
	for _, s := range list.Items {
		if _, err := ri.Patch(ctx, s.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
			return err
		}
	}
	return nil
}

// RequestRefresh asks the application controller to compare an Application
// with Git now, as `argocd app get --refresh` does.
func RequestRefresh(ctx context.Context, c *kube.Client, namespace, name string) error {
	ri, err := c.Resource(ApplicationKind, namespace)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"normal"}}}`, RefreshAnnotation)
	_, err = ri.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}
