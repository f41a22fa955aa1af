package argocd

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Files and annotations groundwork relies on.
const (
	// RootFile is the root Application, relative to the environment's
	// folder in the repository.
	RootFile = "applications/root.yaml"
	// SelfFile is the Application by which Argo CD manages itself.
	SelfFile = "applications/argocd.yaml"
	// SelfApplication is the name of that Application.
	SelfApplication = "argocd"
	// AppsDir holds one folder per app; each becomes an Application.
	AppsDir = "apps"
	// RefreshAnnotation asks the application controller to compare an
	// Application with Git now (the value is the kind of refresh).
	RefreshAnnotation = "argocd.argoproj.io/refresh"
	// SecretTypeLabel marks Secrets Argo CD reads as repositories.
	SecretTypeLabel = "argocd.argoproj.io/secret-type"
	// DefaultProject is the AppProject groundwork's Applications use.
	DefaultProject = "default"
)

// API kinds.
var (
	ApplicationKind    = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}
	ApplicationSetKind = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ApplicationSet"}
	AppProjectKind     = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AppProject"}
)

// RepositorySecretName is the name of the repository credentials Secret of
// an environment.
func RepositorySecretName(env string) string { return "repo-" + env }

// RepositorySecret is the Secret Argo CD reads the repository's URL and
// credentials from (a "repository" Secret: token auth as username and
// password, or an SSH private key).
func RepositorySecret(namespace, env, url string, c *gitrepo.Credentials) *unstructured.Unstructured {
	data := map[string]string{"type": "git", "url": url, "name": env}
	switch {
	case c == nil:
	case c.Token != "":
		user := c.Username
		if user == "" {
			user = "git"
		}
		data["username"], data["password"] = user, c.Token
	default:
		data["sshPrivateKey"] = string(c.SSHKey)
	}
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": RepositorySecretName(env), "namespace": namespace,
			"labels": map[string]any{SecretTypeLabel: "repository", "app.kubernetes.io/managed-by": "groundwork"},
		},
		"type": "Opaque",
		"data": enc,
	}}
}

// DefaultAppProject is the "default" AppProject as argocd-server creates it
// at startup (any source, any destination). up creates it when missing,
// for installations that run without argocd-server, and never changes an
// existing one.
func DefaultAppProject(namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
		"metadata": map[string]any{"name": DefaultProject, "namespace": namespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}}
}

// EnsureDefaultProject creates the default AppProject if it is missing.
// It reports whether it created it.
func EnsureDefaultProject(ctx context.Context, c *kube.Client, namespace string) (bool, error) {
	ri, err := c.Resource(AppProjectKind, namespace)
	if err != nil {
		return false, fmt.Errorf("the AppProject API is not served (is Argo CD installed?): %w", err)
	}
	if _, err := ri.Get(ctx, DefaultProject, metav1.GetOptions{}); err == nil {
		return false, nil
	} else if !apierrors.IsNotFound(err) {
		return false, err
	}
	_, err = ri.Create(ctx, DefaultAppProject(namespace), metav1.CreateOptions{FieldManager: kube.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}

// RootObjects decodes the root Application from the repository's files
// (rendered or read from Git), keyed by path.
func RootObjects(files map[string][]byte, repoPath string) ([]*unstructured.Unstructured, error) {
	p := path.Join(repoPath, RootFile)
	b, ok := files[p]
	if !ok {
		return nil, fmt.Errorf("the repository has no %s", p)
	}
	objs, err := kube.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return objs, nil
}

// Expected is what the wait requires: every Application the files under
// repoPath declare (in applications/) and one per folder under apps/ (the
// ApplicationSet's git directory generator makes them).
func Expected(files map[string][]byte, repoPath, namespace string) []string {
	seen := map[string]bool{}
	appsRoot := path.Join(repoPath, AppsDir) + "/"
	for p, b := range files {
		if rest, ok := strings.CutPrefix(p, appsRoot); ok {
			if i := strings.IndexByte(rest, '/'); i > 0 {
				seen[rest[:i]] = true
			}
			continue
		}
		if path.Dir(p) != path.Join(repoPath, "applications") || !strings.HasSuffix(p, ".yaml") {
			continue
		}
		objs, err := kube.Decode(b)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if o.GroupVersionKind() == ApplicationKind && (o.GetNamespace() == "" || o.GetNamespace() == namespace) {
				seen[o.GetName()] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ApplicationController is the name of the application controller
// StatefulSet of the upstream argo-cd chart installed as release: the chart
// names its workloads "<release>-argocd-<component>", or
// "<release>-<component>" when the release name already says argocd.
func ApplicationController(release string) string {
	if release == "" {
		release = "argo-cd"
	}
	prefix := release
	if !strings.Contains(release, "argocd") {
		prefix += "-argocd"
	}
	return prefix + "-application-controller"
}

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
