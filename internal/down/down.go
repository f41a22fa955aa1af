package down

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/flux"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/kustomization"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// Options say what to delete.
type Options struct {
	Env      *spec.Environment
	StateDir string
	Environ  []string
	// Uninstall removes the reconciler from an existing cluster, leaving
	// what it applied in place.
	Uninstall bool
	// PurgeRepo removes the environment's files from the repository
	// (groundwork's and the folders it seeded; the user's stay).
	PurgeRepo bool
	// Logf reports each thing done.
	Logf func(format string, args ...any)
	// Progress gets Terraform's progress lines (nil: Logf).
	Progress func(line string)
	// Terraform configures finding terraform for an eks, gke or aks
	// cluster; Module replaces the embedded module (tests).
	Terraform terraform.FindOptions
	Module    fs.FS
}

// Plan lists what Run will delete, for confirmation.
func Plan(o Options) []string {
	env := o.Env
	var out []string
	switch {
	case env.Cluster.Remote():
		where := "local Terraform state in " + remote.WorkDir(o.StateDir)
		if env.State != nil {
			where = "Terraform state in the " + env.State.Backend + " backend"
		}
		out = append(out, fmt.Sprintf("destroy the %s cluster %q and everything modules/%s created for it (network, node pools, identities) with terraform destroy (%s)",
			strings.ToUpper(env.Cluster.Provider), env.Name, env.Cluster.Provider, where))
	case env.Cluster.Provider == spec.ProviderKind:
		out = append(out, fmt.Sprintf("delete the kind cluster %q and everything in it", env.Name))
	case env.Cluster.Provider == spec.ProviderExisting && o.Uninstall:
		rel := up.ReconcilerRelease(env)
		out = append(out, fmt.Sprintf("uninstall the reconciler (Helm release %s/%s, its sync objects and Secrets) from the existing cluster; what it applied stays", rel.Namespace, rel.Name))
	case env.Cluster.Provider == spec.ProviderExisting:
		out = append(out, "leave the existing cluster alone (add --uninstall to remove the reconciler from it)")
	}
	if o.PurgeRepo {
		r := env.GitOps.Repository
		out = append(out, fmt.Sprintf("remove the environment's files under %s/ from %s (branch %s) in a commit; files of yours beside them stay", r.Path, r.URL, r.Branch))
	}
	return append(out, "remove the state in "+o.StateDir+" (the age key stays in its key store)")
}

// Destructive reports whether Run would delete anything beyond local state.
func Destructive(o Options) bool {
	return o.Env.Cluster.Provider == spec.ProviderKind || o.Env.Cluster.Remote() || o.Uninstall || o.PurgeRepo
}

// Run deletes. It is idempotent: what is already gone is skipped.
func Run(ctx context.Context, o Options) error {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	env := o.Env
	switch {
	case env.Cluster.Remote():
		if err := destroy(ctx, o); err != nil {
			return err
		}
	case env.Cluster.Provider == spec.ProviderKind:
		path, _ := up.Kubeconfig(env, o.StateDir)
		c, err := kind.New(ctx, env.Name, env.Cluster.Kind, path)
		if err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		o.Logf("deleted the kind cluster %s", env.Name)
	case o.Uninstall:
		if err := uninstall(ctx, o); err != nil {
			return err
		}
	}
	if o.PurgeRepo {
		if err := purge(ctx, o); err != nil {
			return err
		}
	}
	if env.Cluster.Remote() {
		// The working directory (and local state, now empty) goes with the
		// cluster; a remote backend keeps its (empty) state.
		if err := os.RemoveAll(remote.WorkDir(o.StateDir)); err != nil {
			return err
		}
	}
	for _, f := range []string{actions.JournalFile, "kubeconfig"} {
		if err := os.Remove(filepath.Join(o.StateDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// destroy destroys the cloud cluster through Terraform, in the workspace
// and with the state up used.
func destroy(ctx context.Context, o Options) error {
	progress := o.Progress
	if progress == nil {
		progress = func(line string) { o.Logf("terraform: %s", line) }
	}
	var expires time.Time
	if j, err := actions.OpenJournal(o.StateDir); err == nil {
		if s, ok := j.Output("cluster", "expires"); ok {
			expires, _ = time.Parse(time.RFC3339, s)
		}
	}
	d, err := remote.Prepare(ctx, o.Env, remote.PrepareOptions{StateDir: o.StateDir, Expires: expires, Find: o.Terraform, Module: o.Module, Progress: progress})
	if err != nil {
		return err
	}
	sum, err := d.Plan(ctx, true)
	if err != nil {
		return err
	}
	if sum.Destroy == 0 {
		if o.Env.State == nil {
			o.Logf("Terraform's local state of %s (in %s) holds nothing to destroy; if the cluster was made on another machine, its state is there", o.Env.Name, remote.WorkDir(o.StateDir))
		} else {
			o.Logf("Terraform's state of %s holds nothing to destroy", o.Env.Name)
		}
		return nil
	}
	o.Logf("terraform destroy: %d resource(s)", sum.Destroy)
	if err := d.Destroy(ctx); err != nil {
		return err
	}
	o.Logf("destroyed the %s cluster %s", o.Env.Cluster.Provider, o.Env.Name)
	return nil
}

// uninstall detaches Flux first (suspend, drop finalizers, delete its
// objects) so that it cannot garbage-collect what it applied, then removes
// the Helm release and groundwork's Secrets.
func uninstall(ctx context.Context, o Options) error {
	path, kctx := up.Kubeconfig(o.Env, o.StateDir)
	c, err := kube.Connect(path, kctx)
	if err != nil {
		return err
	}
	if _, err := c.ServerVersion(ctx); err != nil {
		return err
	}
	ns := o.Env.GitOps.Namespace
	for _, gvk := range []schema.GroupVersionKind{flux.KustomizationKind, flux.GitRepositoryKind,
		flux.HelmRepositoryKind, flux.HelmReleaseKind,
		// helm-controller makes one for each HelmRelease; with its
		// finalizer left, uninstalling the chart's CRDs would wait for
		// a source-controller that is going away too.
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"}} {
		ri, err := c.Resource(gvk, ns)
		if err != nil {
			continue // the kind is not served: nothing of it to detach
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for _, u := range list.Items {
			patch := []byte(`{"spec":{"suspend":true},"metadata":{"finalizers":null}}`)
			if _, err := ri.Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("detach %s %s: %w", gvk.Kind, u.GetName(), err)
			}
			if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s %s: %w", gvk.Kind, u.GetName(), err)
			}
			o.Logf("deleted %s %s/%s (what it applied stays)", gvk.Kind, ns, u.GetName())
		}
	}
	rel := up.ReconcilerRelease(o.Env)
	cfg, err := helm.NewConfiguration(path, kctx, rel.Namespace, nil)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Wait, un.Timeout = true, o.Env.GitOps.Sync.Timeout
	if _, err := un.Run(rel.Name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("uninstall Helm release %s/%s: %w", rel.Namespace, rel.Name, err)
	}
	o.Logf("uninstalled Helm release %s/%s", rel.Namespace, rel.Name)
	for _, name := range []string{up.AgeSecret, up.CredentialsSecret} {
		err := c.Clientset.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete Secret %s/%s: %w", ns, name, err)
		}
	}
	return nil
}

func purge(ctx context.Context, o Options) error {
	r := o.Env.GitOps.Repository
	creds, err := gitrepo.ResolveCredentials(r.Auth, o.Environ)
	if err != nil {
		return err
	}
	auth, err := creds.AuthMethod()
	if err != nil {
		return err
	}
	g := o.Env.GitOps
	git := &gitrepo.Client{URL: r.URL, Branch: r.Branch, Auth: auth}
	git.Author.Name, git.Author.Email = g.Commit.AuthorName, g.Commit.AuthorEmail
	kept := map[string]bool{}
	res, err := git.Apply(ctx, gitrepo.Change{Root: r.Path, Purge: true, Message: fmt.Sprintf("groundwork: remove environment %s", o.Env.Name),
		// The environment's files go: groundwork's, and the folders it
		// seeded (apps/, secrets/). Entry points of the user's beside
		// them stay, and a kustomization.yaml of theirs only loses the
		// entry groundwork added.
		Keep: func(p string, _ []byte) bool {
			top, _, _ := strings.Cut(strings.TrimPrefix(p, r.Path+"/"), "/")
			if slices.Contains(render.Folders, top) {
				return false
			}
			kept[p] = true
			return true
		},
		Files: []gitrepo.File{{Path: path.Join(r.Path, kustomization.FileName), Build: func(existing []byte, managed bool, _ map[string][]byte) ([]byte, error) {
			if existing == nil || managed {
				return nil, nil
			}
			delete(kept, path.Join(r.Path, kustomization.FileName))
			return kustomization.RemoveResources(existing, []string{render.OwnFolder})
		}}},
	})
	if err != nil {
		return err
	}
	if res.Changed {
		o.Logf("removed the environment's files under %s/ from %s at %s", r.Path, r.URL, res.Revision)
	}
	if len(kept) > 0 {
		names := slices.Sorted(maps.Keys(kept))
		o.Logf("left %d file(s) of yours beside them: %s", len(names), strings.Join(names, ", "))
	}
	return nil
}
