package up

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/argocd"
	"github.com/groundwork-dev/groundwork/internal/flux"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The argocd engine: what up and rebuild do differently when
// gitops.engine = "argocd". Argo CD is installed with Helm like Flux (the
// reconciler step is shared); the repository is an app of apps
// (applications/), which up points Argo CD at by applying the environment's
// AppProject, the repository credentials Secret and the root Application.

// ProjectFile is the environment's AppProject, relative to its folder.
const ProjectFile = "applications/project.yaml"

func (r *Run) argoCD() bool { return r.env().GitOps.Engine == spec.EngineArgoCD }

// engineTitle is the reconciler's name for step titles.
func (r *Run) engineTitle() string {
	if r.argoCD() {
		return "Argo CD"
	}
	return "Flux"
}

// argoCDSyncObjects are the objects that point Argo CD at the repository,
// from files keyed by path (rendered, or read from Git on rebuild): the
// credentials Secret (when the repository needs credentials), the
// notification targets' argocd-notifications-secret (when the spec has
// them), the AppProject and the root Application. The AppProject goes
// first: the root Application belongs to it.
func (r *Run) argoCDSyncObjects(ctx context.Context, files map[string][]byte) ([]*unstructured.Unstructured, error) {
	g := r.env().GitOps
	var objs []*unstructured.Unstructured
	if r.creds != nil {
		objs = append(objs, argocd.RepositorySecret(g.Namespace, r.env().Name, g.Repository.URL, r.creds))
	}
	// The webhook URLs of the notification targets (see notifications.go).
	if s, err := r.argoCDNotificationSecret(); err != nil {
		return nil, err
	} else if s != nil {
		objs = append(objs, s)
	}
	if b, ok := files[path.Join(g.Repository.Path, ProjectFile)]; ok {
		p, err := kube.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ProjectFile, err)
		}
		objs = append(objs, p...)
	} else if _, err := argocd.EnsureDefaultProject(ctx, r.kube, g.Namespace); err != nil {
		// A repository seeded before the environment had its own
		// AppProject: its Applications use "default".
		return nil, err
	}
	root, err := argocd.RootObjects(files, g.Repository.Path)
	if err != nil {
		return nil, err
	}
	return append(objs, root...), nil
}

func (r *Run) applyArgoCDObjects(ctx context.Context, files map[string][]byte) error {
	objs, err := r.argoCDSyncObjects(ctx, files)
	if err != nil {
		return err
	}
	changed := false
	for _, o := range objs {
		// Argo CD writes the status of its objects all the time: for
		// them a change is a new generation, not a new resourceVersion.
		tracked := o.GroupVersionKind().Group == argocd.ApplicationKind.Group
		before := r.generation(ctx, o)
		ch, err := r.kube.Apply(ctx, o)
		if err != nil {
			return err
		}
		if tracked {
			ch = before != r.generation(ctx, o)
		}
		changed = changed || ch
	}
	if !changed {
		return actions.NoChange
	}
	return nil
}

// generation is an object's metadata.generation, or -1 when it cannot be
// read (missing).
func (r *Run) generation(ctx context.Context, o *unstructured.Unstructured) int64 {
	ri, err := r.kube.Resource(o.GroupVersionKind(), o.GetNamespace())
	if err != nil {
		return -1
	}
	cur, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return cur.GetGeneration()
}

// applyArgoCDSync is up's sync step for Argo CD.
func (r *Run) applyArgoCDSync(ctx context.Context) error {
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	return r.applyArgoCDObjects(ctx, argocd.FileMap(files))
}

// applyArgoCDGitSync is rebuild's: the objects as Git declares them now.
func (r *Run) applyArgoCDGitSync(ctx context.Context) error {
	return r.applyArgoCDObjects(ctx, r.snapshot.Files)
}

// argoCDRequired lists the Applications the repository declares: those in
// applications/ and one per folder under apps/, as Git has them (the apps
// are the user's).
func (r *Run) argoCDRequired(ctx context.Context) ([]string, error) {
	git, err := r.Git()
	if err != nil {
		return nil, err
	}
	snap, err := git.Read(ctx, r.env().GitOps.Repository.Path)
	if err != nil {
		return nil, err
	}
	return argocd.Expected(snap.Files, r.env().GitOps.Repository.Path, r.env().GitOps.Namespace), nil
}

func (r *Run) argoCDWaiter() *argocd.Waiter {
	g := r.env().GitOps
	w := &argocd.Waiter{Client: r.kube, Namespace: g.Namespace, Release: ReconcilerRelease(r.env()).Name, RepoURL: g.Repository.URL, Now: r.opts.Now}
	if git, err := r.Git(); err == nil {
		w.IsAncestor = git.IsAncestor
	}
	return w
}

func (r *Run) checkArgoCDWait(ctx context.Context) (actions.Status, error) {
	req, err := r.argoCDRequired(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	_, ok, err := r.argoCDWaiter().Look(ctx, r.Revision, req)
	if err != nil || !ok {
		return actions.Status{}, err
	}
	return actions.Status{Done: true, Reason: "every Application Synced and Healthy at " + r.Revision}, nil
}

// applyArgoCDWait asks Argo CD to compare the root Application with Git
// now, syncs what is out of sync when the spec asks for manual sync (up is
// the person syncing), and waits until every Application is Synced and
// Healthy at the revision.
func (r *Run) applyArgoCDWait(ctx context.Context) error {
	g := r.env().GitOps
	wctx, cancel := context.WithTimeout(ctx, g.Sync.Timeout)
	defer cancel()
	if err := argocd.RequestRefresh(wctx, r.kube, g.Namespace, r.env().Name+"-root"); err != nil {
		r.opts.Logf("request refresh: %v", err)
	}
	req, err := r.argoCDRequired(wctx)
	if err != nil {
		return err
	}
	w := r.argoCDWaiter()
	if g.Sync.Manual {
		return r.syncByHand(wctx, w, req)
	}
	return w.Wait(wctx, r.Revision, req)
}

// syncByHand starts a sync operation, as `argocd app sync` does, on each
// Application that is OutOfSync and has no operation running, until all are
// Synced and Healthy: with manual sync Argo CD applies nothing by itself,
// and up is the explicit request to apply what Git declares. A sync window
// that denies manual syncs makes Argo CD refuse, and the wait says so.
func (r *Run) syncByHand(ctx context.Context, w *argocd.Waiter, required []string) error {
	ri, err := r.kube.Resource(argocd.ApplicationKind, r.env().GitOps.Namespace)
	if err != nil {
		return err
	}
	for {
		apps, ok, err := w.Look(ctx, r.Revision, required)
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
				"sync": map[string]any{"prune": r.env().GitOps.Sync.Prune}}
			if opts, found, _ := unstructured.NestedStringSlice(u.Object, "spec", "syncPolicy", "syncOptions"); found {
				op["sync"].(map[string]any)["syncOptions"] = opts
			}
			patch, err := json.Marshal(map[string]any{"operation": op})
			if err != nil {
				return err
			}
			if _, err := ri.Patch(ctx, a.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err == nil {
				r.opts.Logf("sync of Application %s started (manual sync policy)", a.Name)
			}
		}
		// One bounded look lets Wait report what is not ready.
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = w.Wait(lctx, r.Revision, required)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
	}
}

// argoCDDeclaredChart reads the version (and source) of Argo CD from the
// Application in Git by which it manages itself, so that a version bumped
// in Git after bootstrap is the one reinstalled.
func (r *Run) argoCDDeclaredChart() {
	g := &r.opts.Env.GitOps
	objs, err := kube.Decode(r.snapshot.Files[path.Join(g.Repository.Path, argocd.SelfFile)])
	if err != nil {
		return
	}
	for _, o := range objs {
		if o.GroupVersionKind() != argocd.ApplicationKind {
			continue
		}
		chart, _, _ := unstructured.NestedString(o.Object, "spec", "source", "chart")
		if chart != g.Chart.Name {
			continue
		}
		if v, _, _ := unstructured.NestedString(o.Object, "spec", "source", "targetRevision"); v != "" && v != g.Version {
			r.opts.Logf("Git declares %s %s (the spec says %s): installing %s", g.Chart.Name, v, g.Version, v)
			g.Version = v
		}
		if u, _, _ := unstructured.NestedString(o.Object, "spec", "source", "repoURL"); u != "" {
			if g.Chart.OCI() && !strings.Contains(u, "://") {
				u = "oci://" + u
			}
			g.Chart.Repository = u
		}
	}
}

// syncFile is the file rebuild requires in Git: the engine's sync objects.
func (r *Run) syncFile() string {
	if r.argoCD() {
		return argocd.RootFile
	}
	return flux.SyncFile
}

// argoCDDeclared lists the Applications the repository declares.
func (r *Run) argoCDDeclared() []string {
	g := r.env().GitOps
	return argocd.Expected(r.snapshot.Files, g.Repository.Path, g.Namespace)
}

func (r *Run) applyArgoCDGitWait(ctx context.Context) error {
	g := r.env().GitOps
	wctx, cancel := context.WithTimeout(ctx, g.Sync.Timeout)
	defer cancel()
	if err := argocd.RequestRefresh(wctx, r.kube, g.Namespace, r.env().Name+"-root"); err != nil {
		r.opts.Logf("request refresh: %v", err)
	}
	w := r.argoCDWaiter()
	if g.Sync.Manual {
		return r.syncByHand(wctx, w, r.argoCDDeclared())
	}
	return w.Wait(wctx, r.Revision, r.argoCDDeclared())
}
