package flux

import (
	"context"
	"fmt"
	"path"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Values are the flux2 chart values groundwork installs with, the same as
// its HelmRelease in Git (templates/flux/groundwork/flux.yaml.tmpl)
// declares, so that the HelmRelease taking the release over changes nothing.
// The chart ships its CRDs as templates: without the keep policy,
// uninstalling the release (down --uninstall) would delete them, and with
// them every Flux object in the cluster, the user's included.
var Values = map[string]any{"crds": map[string]any{"annotations": map[string]any{"helm.sh/resource-policy": "keep"}}}

// Engine is Flux as a gitops.Engine: a GitRepository and a Kustomization
// (groundwork/sync.yaml) point it at the repository, Kustomizations are
// what Git declares, and the HelmRelease groundwork/flux.yaml upgrades Flux
// itself.
type Engine struct {
	*Waiter
	d gitops.Deps
}

var _ gitops.Engine = (*Engine)(nil)

// New returns the Flux engine of d.Env.
func New(d gitops.Deps) *Engine {
	d = d.Defaults()
	return &Engine{d: d, Waiter: &Waiter{Client: d.Kube, Namespace: d.Env.GitOps.Namespace, Now: d.Now, Revisions: &gitops.Revisions{IsAncestor: d.IsAncestor}}}
}

// Kind is what Git declares for Flux to apply.
func (e *Engine) Kind() string { return "Kustomization" }

// SyncFile holds the GitRepository and Kustomization groundwork points
// Flux with.
func (e *Engine) SyncFile() string { return SyncFile }

// Release is the flux2 release.
func (e *Engine) Release() helm.Release {
	g := e.d.Env.GitOps
	return helm.Release{Name: g.Chart.Name, Namespace: g.Namespace, Chart: g.Chart, Version: g.Version, CreateNamespace: true, Values: Values}
}

// syncPath is the sync file in files: groundwork/sync.yaml, or where an
// older groundwork kept it.
func (e *Engine) syncPath(files map[string][]byte) string {
	p := e.d.Env.GitOps.Repository.Path
	if _, ok := files[path.Join(p, SyncFile)]; !ok {
		if _, ok := files[path.Join(p, LegacySyncFile)]; ok {
			return path.Join(p, LegacySyncFile)
		}
	}
	return path.Join(p, SyncFile)
}

// SyncObjects are the credentials Secret (when the repository needs
// credentials) and the objects of the sync file.
func (e *Engine) SyncObjects(_ context.Context, files map[string][]byte, _ gitops.AttachOptions) ([]*unstructured.Unstructured, error) {
	p := e.syncPath(files)
	b, ok := files[p]
	if !ok {
		return nil, fmt.Errorf("the repository has no %s", p)
	}
	objs, err := kube.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if c := e.d.Credentials; c != nil {
		objs = append([]*unstructured.Unstructured{gitops.Secret(e.Namespace, facts.CredentialsSecret, c.SecretData())}, objs...)
	}
	return objs, nil
}

// Attach applies the sync objects.
func (e *Engine) Attach(ctx context.Context, files map[string][]byte, o gitops.AttachOptions) (bool, error) {
	objs, err := e.SyncObjects(ctx, files, o)
	if err != nil {
		return false, err
	}
	return e.d.Kube.ApplyAll(ctx, objs)
}

// Declared lists the Kustomizations files declare in Flux's namespace.
func (e *Engine) Declared(files map[string][]byte) []string {
	return DeclaredKustomizations(files, e.Namespace)
}

// DeclaredChart reads the flux2 version (and source) from the HelmRelease
// and HelmRepository beside the sync objects.
func (e *Engine) DeclaredChart(files map[string][]byte) (version, repository string) {
	g := e.d.Env.GitOps
	objs, err := kube.Decode(files[path.Join(path.Dir(e.syncPath(files)), "flux.yaml")])
	if err != nil {
		return "", ""
	}
	for _, o := range objs {
		switch {
		case o.GetKind() == "HelmRelease" && o.GetName() == g.Chart.Name:
			version, _, _ = unstructured.NestedString(o.Object, "spec", "chart", "spec", "version")
		case o.GetKind() == "HelmRepository" && o.GetName() == g.Chart.Name:
			repository, _, _ = unstructured.NestedString(o.Object, "spec", "url")
		}
	}
	return version, repository
}

// Who owns Flux's own release.
//
// groundwork installs the flux2 chart with the Helm SDK once, when the
// cluster has no such release (first up, rebuild after a wipe): nothing
// else can, since helm-controller is part of that chart. From then on the
// HelmRelease groundwork commits (groundwork/flux.yaml) owns the release:
// helm-controller adopts it (one upgrade, which labels its objects) and
// performs every later upgrade, when a gitops.version bump reaches Git. up
// never upgrades a release Flux owns: two owners of one release would fight,
// with Helm revisions climbing on every reconcile.

// OwnsRelease reports whether the release is in Flux's hands: its
// HelmRelease exists, is not suspended and helm-controller has acted on it
// (status.history).
func (e *Engine) OwnsRelease(ctx context.Context) (bool, string, error) {
	rel := e.Release()
	ri, err := e.d.Kube.Resource(HelmReleaseKind, rel.Namespace)
	switch {
	case meta.IsNoMatchError(err):
		return false, "", nil // the kind is not served: Flux is not installed
	case err != nil:
		// Unknown is not "absent": upgrading a release Flux may own would
		// make it two owners.
		return false, "", err
	}
	hr, err := ri.Get(ctx, rel.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("read HelmRelease %s/%s: %w", rel.Namespace, rel.Name, err)
	}
	if suspended, _, _ := unstructured.NestedBool(hr.Object, "spec", "suspend"); suspended {
		e.d.Logf("HelmRelease %s/%s is suspended: up manages the release with Helm", rel.Namespace, rel.Name)
		return false, "", nil
	}
	if hr.GetDeletionTimestamp() != nil {
		return false, "", nil // on its way out
	}
	if name, _, _ := unstructured.NestedString(hr.Object, "spec", "releaseName"); name != "" && name != rel.Name {
		return false, "", nil
	}
	history, _, _ := unstructured.NestedSlice(hr.Object, "status", "history")
	if len(history) == 0 {
		return false, "", nil
	}
	// The release it took over must still be there: with the release
	// gone (its storage lost, uninstalled by hand) there is nothing of
	// Flux's to leave alone, and up installs it again.
	if current, err := helm.Stored(e.d.Kube.Kubeconfig, e.d.Kube.Context, rel.Namespace, rel.Name, e.d.Logf); err != nil || current == nil {
		return false, "", err
	}
	latest, _ := history[0].(map[string]any)
	version, _ := latest["chartVersion"].(string)
	why := fmt.Sprintf("release %s/%s is Flux's: HelmRelease %s/%s (revision %v, chart %s) upgrades it from Git", rel.Namespace, rel.Name, rel.Namespace, rel.Name, latest["version"], version)
	if version != rel.Version {
		why += fmt.Sprintf("; %s reaches it when the seed step commits it", rel.Version)
	}
	return true, why, nil
}

// Wait asks Flux to fetch the repository now, waits until every
// Kustomization and HelmRelease is ready at revision and Flux's own
// workloads run, then deletes the Kustomizations an older layout retired.
func (e *Engine) Wait(ctx context.Context, revision string, required []string) error {
	if err := RequestReconcile(ctx, e.d.Kube, e.Namespace, e.d.Now()); err != nil {
		e.d.Logf("request reconciliation: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, e.d.Env.GitOps.Sync.Timeout)
	defer cancel()
	if err := e.Waiter.Wait(wctx, revision, required); err != nil {
		return err
	}
	if err := e.workloads(wctx); err != nil {
		return err
	}
	done, err := DeleteRetired(wctx, e.d.Kube, e.Namespace)
	if len(done) > 0 {
		e.d.Logf("deleted retired Kustomizations %v without pruning what they applied", done)
	}
	return err
}

// workloads waits until the workloads of Flux's release are ready. Its
// HelmRelease upgrades without waiting (see flux.yaml): a Ready HelmRelease
// says the new chart is applied, not that the new controllers run.
func (e *Engine) workloads(ctx context.Context) error {
	rel := e.Release()
	hr, err := helm.Stored(e.d.Kube.Kubeconfig, e.d.Kube.Context, rel.Namespace, rel.Name, e.d.Logf)
	if err != nil {
		return err
	}
	if hr == nil {
		return fmt.Errorf("Helm release %s/%s is not installed", rel.Namespace, rel.Name)
	}
	for {
		_, err := health.Check(ctx, e.d.Kube.Clientset, hr.Manifest, hr.Namespace)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the %s release's workloads are not ready (chart %s): %w", rel.Name, hr.Chart.Metadata.Version, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Retire marks the Kustomizations an older layout declared as retired
// before the commit that stops declaring them (see Retire).
func (e *Engine) Retire(ctx context.Context, names []string) ([]string, error) {
	return Retire(ctx, e.d.Kube, e.Namespace, names)
}

// detachKinds are the Flux kinds groundwork's sync objects make, in the
// order they are detached.
var detachKinds = []schema.GroupVersionKind{KustomizationKind, GitRepositoryKind, HelmRepositoryKind, HelmReleaseKind,
	// helm-controller makes one for each HelmRelease; with its finalizer
	// left, uninstalling the chart's CRDs would wait for a
	// source-controller that is going away too.
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"}}

// Detach suspends every Flux object in the namespace, drops its finalizers
// and deletes it, so that Flux garbage-collects nothing it applied, then
// deletes the Secrets groundwork gave Flux (the Git credentials, the age
// key).
func (e *Engine) Detach(ctx context.Context) ([]string, error) {
	var done []string
	for _, gvk := range detachKinds {
		ri, err := e.d.Kube.Resource(gvk, e.Namespace)
		if err != nil {
			continue // the kind is not served: nothing of it to detach
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return done, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for _, u := range list.Items {
			patch := []byte(`{"spec":{"suspend":true},"metadata":{"finalizers":null}}`)
			if _, err := ri.Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
				return done, fmt.Errorf("detach %s %s: %w", gvk.Kind, u.GetName(), err)
			}
			if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return done, fmt.Errorf("delete %s %s: %w", gvk.Kind, u.GetName(), err)
			}
			done = append(done, fmt.Sprintf("%s %s/%s", gvk.Kind, e.Namespace, u.GetName()))
		}
	}
	return gitops.DeleteSecrets(ctx, e.d.Kube, e.Namespace, done, facts.AgeSecret, facts.CredentialsSecret)
}

// NotificationSecretPath is the SOPS-encrypted Secret of the target in
// Git.
func (e *Engine) NotificationSecretPath(t spec.NotificationTarget) string {
	return render.NotificationSecretPath(e.d.Env, t)
}

// SyncRoot is the GitRepository groundwork points Flux with.
func (e *Engine) SyncRoot() (kind, name string) { return GitRepositoryKind.Kind, SyncName }

// Retiring lists the Kustomizations that files the change removes declare
// and that groundwork's new files do not.
func (e *Engine) Retiring(changes []gitrepo.FileChange, ours []declared.Object) []string {
	namespace := e.Namespace
	keep := map[string]bool{}
	for _, n := range declared.Kustomizations(ours, namespace) {
		keep[n] = true
	}
	var old []declared.Object
	for _, c := range changes {
		if c.Action == gitrepo.ActionRemove {
			old = append(old, declared.Decode(c.Path, c.Old)...)
		}
	}
	var out []string
	for _, n := range declared.Kustomizations(old, namespace) {
		if !keep[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Collisions adds nothing to the objects the files declare: Flux makes no
// object of its own from the repository's layout.
func (e *Engine) Collisions([]declared.Object) []declared.Collision { return nil }

// TakesOverBootstrap is true: up can take over a Flux made by flux
// bootstrap (--take-over-bootstrap).
func (e *Engine) TakesOverBootstrap() bool { return true }

// Prepare has nothing to do: the flux2 chart makes all it needs.
func (e *Engine) Prepare(context.Context) error { return nil }

// TakeOverBootstrap prepares the objects flux bootstrap applied (its files
// in dir of tree) for Helm to adopt them into Flux's release, and keeps
// Flux from pruning them when Git stops declaring them (step 1 of the
// take-over, see seed/bootstrap.go).
func (e *Engine) TakeOverBootstrap(ctx context.Context, tree map[string][]byte, dir string) error {
	rel := e.Release()
	n := 0
	for _, file := range []string{"gotk-components.yaml", "gotk-sync.yaml"} {
		objs, err := kube.Decode(tree[path.Join(dir, file)])
		if err != nil {
			return fmt.Errorf("%s/%s: %w", dir, file, err)
		}
		for _, o := range objs {
			meta := fmt.Sprintf(`"annotations":{%q:"disabled"}`, PruneAnnotation)
			if file == "gotk-components.yaml" {
				// Helm's ownership metadata: the release adopts the object.
				meta = fmt.Sprintf(`"labels":{"app.kubernetes.io/managed-by":"Helm"},"annotations":{%q:"disabled","meta.helm.sh/release-name":%q,"meta.helm.sh/release-namespace":%q}`,
					PruneAnnotation, rel.Name, rel.Namespace)
			}
			ri, err := e.d.Kube.Resource(o.GroupVersionKind(), o.GetNamespace())
			if err != nil {
				continue // a kind the cluster does not serve: nothing of it runs
			}
			_, err = ri.Patch(ctx, o.GetName(), types.MergePatchType, []byte(`{"metadata":{`+meta+`}}`), metav1.PatchOptions{FieldManager: kube.FieldManager})
			switch {
			case apierrors.IsNotFound(err):
				continue
			case err != nil:
				return fmt.Errorf("prepare %s %s from %s for Helm: %w", o.GetKind(), o.GetName(), file, err)
			}
			n++
		}
	}
	e.d.Logf("taking over flux bootstrap's Flux: %d object(s) marked for Helm release %s/%s and kept from pruning", n, rel.Namespace, rel.Name)
	return nil
}
