package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// ProjectFile is the environment's AppProject, relative to its folder.
const ProjectFile = "applications/project.yaml"

// Engine is Argo CD as a gitops.Engine: the repository is an app of apps
// (applications/), which the environment's AppProject, the repository
// credentials Secret and the root Application point Argo CD at;
// Applications are what Git declares, and the Application argocd upgrades
// Argo CD itself.
type Engine struct {
	*Waiter
	d gitops.Deps
}

var _ gitops.Engine = (*Engine)(nil)

// New returns the Argo CD engine of d.Env.
func New(d gitops.Deps) *Engine {
	d = d.Defaults()
	g := d.Env.GitOps
	return &Engine{d: d, Waiter: &Waiter{Client: d.Kube, Namespace: g.Namespace, Release: g.Chart.Name, RepoURL: g.Repository.URL,
		Now: d.Now, Revisions: &gitops.Revisions{IsAncestor: d.IsAncestor}}}
}

// Kind is what Git declares for Argo CD to apply.
func (e *Engine) Kind() string { return ApplicationKind.Kind }

// SyncFile holds the root Application.
func (e *Engine) SyncFile() string { return RootFile }

// Release is the argo-cd release, with the values of the Application by
// which Argo CD manages itself, so that the two never disagree, and its
// objects marked as that Application's.
func (e *Engine) Release() helm.Release {
	g := e.d.Env.GitOps
	return helm.Release{Name: g.Chart.Name, Namespace: g.Namespace, Chart: g.Chart, Version: g.Version, CreateNamespace: true, Values: render.ArgoCDValues(e.d.Env),
		// Marked as the Application by which Argo CD manages itself marks
		// its objects: handed over, the release is Synced at the first
		// comparison rather than applied again (see Tracking).
		PostRenderer: Tracking{App: SelfApplication, Namespace: g.Namespace}}
}

// SyncObjects are the credentials Secret (when the repository needs
// credentials), argocd-notifications-secret (when the spec has
// notification targets and every URL is given), the environment's
// AppProject and the root Application, in that order: the root Application
// belongs to the AppProject.
func (e *Engine) SyncObjects(_ context.Context, files map[string][]byte, o gitops.AttachOptions) ([]*unstructured.Unstructured, error) {
	env, g := e.d.Env, e.d.Env.GitOps
	var objs []*unstructured.Unstructured
	if e.d.Credentials != nil {
		objs = append(objs, RepositorySecret(g.Namespace, env.Name, g.Repository.URL, e.d.Credentials))
	}
	if s := e.notificationSecret(o.NotificationURLs); s != nil {
		objs = append(objs, s)
	}
	if b, ok := files[path.Join(g.Repository.Path, ProjectFile)]; ok {
		p, err := kube.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ProjectFile, err)
		}
		objs = append(objs, p...)
	}
	root, err := RootObjects(files, g.Repository.Path)
	if err != nil {
		return nil, err
	}
	return append(objs, root...), nil
}

// notificationSecret is argocd-notifications-secret with the targets'
// URLs (nil without notifications, and when a URL is missing, as on a
// rebuild without one of the variables: applying it would drop that URL).
// It carries Helm's ownership of the argo-cd release, so that the chart can
// take it back should the notifications block go (the chart then makes a
// Secret of that name).
func (e *Engine) notificationSecret(urls map[string]string) *unstructured.Unstructured {
	env := e.d.Env
	if env.Notifications == nil {
		return nil
	}
	if len(urls) < len(env.Notifications.Targets) {
		e.d.Logf("%s left as it is: run up with every url_env set to write it", notify.ArgoCDSecret)
		return nil
	}
	g := env.GitOps
	s := gitops.Secret(g.Namespace, notify.ArgoCDSecret, notify.ArgoCDSecretData(env, urls))
	s.SetLabels(map[string]string{facts.ManagedByLabel: "Helm", "app.kubernetes.io/part-of": "argocd"})
	s.SetAnnotations(map[string]string{"meta.helm.sh/release-name": g.Chart.Name, "meta.helm.sh/release-namespace": g.Namespace})
	return s
}

// Attach applies the sync objects (creating the default AppProject for a
// repository seeded before the environment had its own). For Argo CD's
// own objects a change is a new generation, not a new resourceVersion:
// Argo CD writes their status all the time.
func (e *Engine) Attach(ctx context.Context, files map[string][]byte, o gitops.AttachOptions) (bool, error) {
	if _, ok := files[path.Join(e.d.Env.GitOps.Repository.Path, ProjectFile)]; !ok {
		if _, err := EnsureDefaultProject(ctx, e.d.Kube, e.Namespace); err != nil {
			return false, err
		}
	}
	objs, err := e.SyncObjects(ctx, files, o)
	if err != nil {
		return false, err
	}
	changed := false
	for _, o := range objs {
		tracked := o.GroupVersionKind().Group == ApplicationKind.Group
		before := e.generation(ctx, o)
		ch, err := e.d.Kube.Apply(ctx, o)
		if err != nil {
			return false, err
		}
		if tracked {
			ch = before != e.generation(ctx, o)
		}
		changed = changed || ch
	}
	return changed, nil
}

// generation is an object's metadata.generation, or -1 when it cannot be
// read (missing).
func (e *Engine) generation(ctx context.Context, o *unstructured.Unstructured) int64 {
	ri, err := e.d.Kube.Resource(o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return -1
	}
	cur, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return cur.GetGeneration()
}

// Declared lists the Applications files declare: those in applications/
// and one per folder under apps/.
func (e *Engine) Declared(files map[string][]byte) []string {
	return Expected(files, e.d.Env.GitOps.Repository.Path, e.Namespace)
}

// DeclaredChart reads Argo CD's version (and source) from the Application
// by which it manages itself.
func (e *Engine) DeclaredChart(files map[string][]byte) (version, repository string) {
	g := e.d.Env.GitOps
	objs, err := kube.Decode(files[path.Join(g.Repository.Path, SelfFile)])
	if err != nil {
		return "", ""
	}
	for _, o := range objs {
		if o.GroupVersionKind() != ApplicationKind {
			continue
		}
		if chart, _, _ := unstructured.NestedString(o.Object, "spec", "source", "chart"); chart != g.Chart.Name {
			continue
		}
		version, _, _ = unstructured.NestedString(o.Object, "spec", "source", "targetRevision")
		repository, _, _ = unstructured.NestedString(o.Object, "spec", "source", "repoURL")
		if repository != "" && g.Chart.OCI() && !strings.Contains(repository, "://") {
			repository = "oci://" + repository
		}
	}
	return version, repository
}

// Who owns Argo CD's own release.
//
// groundwork installs the argo-cd chart with the Helm SDK when the cluster
// has no such release (first up, rebuild after a wipe). From then on the
// Application by which Argo CD manages itself (applications/argocd.yaml,
// automated sync) owns its objects: Argo CD renders the chart version Git
// declares and applies it, without Helm. up then leaves the release alone:
// a Helm upgrade of objects Argo CD syncs would be a second owner, and the
// Helm release would record versions Git never declared. The release stays
// at the revision groundwork installed; Git holds the version.

// OwnsRelease reports whether Argo CD manages its own installation: its
// Application exists in the cluster, syncs automatically, is not being
// deleted and has synced at least once, and the Helm release groundwork
// installed is there.
func (e *Engine) OwnsRelease(ctx context.Context) (bool, string, error) {
	rel := e.Release()
	ri, err := e.d.Kube.Resource(ApplicationKind, rel.Namespace)
	switch {
	case meta.IsNoMatchError(err):
		return false, "", nil // Argo CD's CRDs are not there: not installed
	case err != nil:
		return false, "", err
	}
	app, err := ri.Get(ctx, SelfApplication, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("read Application %s/%s: %w", rel.Namespace, SelfApplication, err)
	}
	if app.GetDeletionTimestamp() != nil {
		return false, "", nil
	}
	automated, found, _ := unstructured.NestedMap(app.Object, "spec", "syncPolicy", "automated")
	if !found || automated == nil {
		return false, "", nil
	}
	if enabled, ok := automated["enabled"].(bool); ok && !enabled {
		return false, "", nil // manual sync: up installs and upgrades
	}
	if synced, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision"); synced == "" {
		return false, "", nil // Argo CD has not applied it yet
	}
	if current, err := helm.Stored(e.d.Kube.Kubeconfig, e.d.Kube.Context, rel.Namespace, rel.Name, e.d.Logf); err != nil || current == nil {
		return false, "", err
	}
	version, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
	why := fmt.Sprintf("Argo CD manages its own installation: Application %s/%s (chart %s %s) upgrades it from Git; the Helm release %s/%s stays as installed",
		rel.Namespace, SelfApplication, rel.Chart.Name, version, rel.Namespace, rel.Name)
	if version != rel.Version {
		why += fmt.Sprintf("; %s reaches it when the seed step commits it", rel.Version)
	}
	return true, why, nil
}

// Wait asks Argo CD to compare the root Application with Git now, syncs
// what is out of sync when the spec asks for manual sync (up is the person
// syncing), and waits until every Application is Synced and Healthy at
// revision.
func (e *Engine) Wait(ctx context.Context, revision string, required []string) error {
	g := e.d.Env.GitOps
	wctx, cancel := context.WithTimeout(ctx, g.Sync.Timeout)
	defer cancel()
	if err := RequestRefresh(wctx, e.d.Kube, g.Namespace, facts.RootApplication(e.d.Env)); err != nil {
		e.d.Logf("request refresh: %v", err)
	}
	if g.Sync.Manual {
		return e.syncByHand(wctx, revision, required)
	}
	return e.Waiter.Wait(wctx, revision, required)
}

// syncByHand starts a sync operation, as `argocd app sync` does, on each
// Application that is OutOfSync and has no operation running, until all are
// Synced and Healthy: with manual sync Argo CD applies nothing by itself,
// and up is the explicit request to apply what Git declares. A sync window
// that denies manual syncs makes Argo CD refuse, and the wait says so.
func (e *Engine) syncByHand(ctx context.Context, revision string, required []string) error {
	ri, err := e.d.Kube.Resource(ApplicationKind, e.Namespace)
	if err != nil {
		return err
	}
	for {
		apps, ok, err := e.Look(ctx, revision, required)
		if err == nil && ok {
			return nil
		}
		for _, a := range apps {
			if a.Missing || a.Sync != "OutOfSync" {
				continue
			}
			u, err := ri.Get(ctx, a.Name, metav1.GetOptions{})
			if err != nil || u.Object["operation"] != nil {
				continue
			}
			// A sync still running is waited for; one that finished with
			// the Application still OutOfSync (something changed the live
			// objects meanwhile, or the sync failed) is started again, as
			// a person running `argocd app sync` would.
			if phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase"); phase == "Running" || phase == "Terminating" {
				continue
			}
			// As `argocd app sync` does: the Application's sync options
			// (CreateNamespace=true, ServerSideApply=true) go with the
			// operation.
			op := map[string]any{"initiatedBy": map[string]any{"username": "groundwork"},
				"sync": map[string]any{"prune": e.d.Env.GitOps.Sync.Prune}}
			if opts, found, _ := unstructured.NestedStringSlice(u.Object, "spec", "syncPolicy", "syncOptions"); found {
				op["sync"].(map[string]any)["syncOptions"] = opts
			}
			patch, err := json.Marshal(map[string]any{"operation": op})
			if err != nil {
				return err
			}
			if _, err := ri.Patch(ctx, a.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err == nil {
				e.d.Logf("sync of Application %s started (manual sync policy)", a.Name)
			}
		}
		// One bounded look lets Wait report what is not ready.
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = e.Waiter.Wait(lctx, revision, required)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
	}
}

// Retire does nothing: no Argo CD object of an older groundwork's layout
// needs retiring.
func (e *Engine) Retire(context.Context, []string) ([]string, error) { return nil, nil }

// NotificationSecretPath is empty: the webhook URLs are in
// argocd-notifications-secret, which is not in Git.
func (e *Engine) NotificationSecretPath(spec.NotificationTarget) string { return "" }

// SyncRoot is the root Application.
func (e *Engine) SyncRoot() (kind, name string) {
	return ApplicationKind.Kind, facts.RootApplication(e.d.Env)
}

// Collisions finds folders under <path>/apps that an Application
// of the user's already deploys: groundwork's ApplicationSet would make a
// second Application for each (two owners of the same objects).
func (e *Engine) Collisions(theirs []declared.Object) []declared.Collision {
	root, env := e.d.Env.GitOps.Repository.Path, e.d.Env.Name
	apps := path.Join(root, AppsDir) + "/"
	var out []declared.Collision
	for _, o := range theirs {
		for _, p := range o.SourcePaths() {
			folder, _, _ := strings.Cut(strings.TrimPrefix(p, apps), "/")
			if !strings.HasPrefix(p, apps) || folder == "" {
				continue
			}
			out = append(out, declared.Collision{Object: o, Ours: declared.Object{Group: "argoproj.io", Kind: "Application", Name: folder,
				File: path.Join(root, "applications", "apps.yaml") + " (the ApplicationSet " + env + "-apps makes one per folder of " + strings.TrimSuffix(apps, "/") + ", " + p + " included)"}})
		}
	}
	return out
}

// TakesOverBootstrap is false: flux bootstrap makes Flux, not Argo CD.
func (e *Engine) TakesOverBootstrap() bool { return false }

// Retiring is empty: no Argo CD object of an older groundwork's layout
// needs retiring.
func (e *Engine) Retiring([]gitrepo.FileChange, []declared.Object) []string { return nil }

// TakeOverBootstrap is not for Argo CD (TakesOverBootstrap is false).
func (e *Engine) TakeOverBootstrap(context.Context, map[string][]byte, string) error {
	return errors.New("flux bootstrap made Flux, not Argo CD: there is nothing for Argo CD to take over")
}
