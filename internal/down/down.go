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

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/faults"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/kustomization"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
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
		where := "local Terraform state in " + facts.Terraform(o.StateDir)
		if env.State != nil {
			where = "Terraform state in the " + env.State.Backend + " backend"
		}
		out = append(out, fmt.Sprintf("destroy the %s cluster %q and everything modules/%s created for it (network, node pools, identities) with terraform destroy (%s)",
			strings.ToUpper(env.Cluster.Provider), env.Name, env.Cluster.Provider, where))
	case env.Cluster.Provider == spec.ProviderKind:
		out = append(out, fmt.Sprintf("delete the kind cluster %q and everything in it", env.Name))
	case env.Cluster.Provider == spec.ProviderExisting && o.Uninstall:
		name, ns := facts.ReconcilerRelease(env)
		out = append(out, fmt.Sprintf("uninstall %s (Helm release %s/%s, its %ss and the other objects pointing it at the repository, and the Secrets groundwork gave it) from the existing cluster; what it applied stays", engines.For(env).Name(), ns, name, engines.For(env).Kind()))
		if env.Ephemeral != nil {
			out = append(out, fmt.Sprintf("delete the instance's expiry record (ConfigMap %s/%s) from the existing cluster", facts.ExpiryNamespace, facts.ExpiryConfigMap))
		}
	case env.Cluster.Provider == spec.ProviderExisting:
		out = append(out, "leave the existing cluster alone (add --uninstall to remove the reconciler from it)")
	}
	if o.PurgeRepo {
		r := env.GitOps.Repository
		out = append(out, fmt.Sprintf("remove the environment's files under %s/ from %s (branch %s) in a commit; files of yours beside them stay", r.Path, r.URL, r.Branch))
	}
	return append(out, "remove the state in "+o.StateDir+" ("+keptKeys(env)+")")
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
		path, _ := facts.Kubeconfig(env, o.StateDir)
		c, err := kind.New(ctx, env.Name, env.Cluster.Kind, path)
		var nr *kind.NoRuntimeError
		switch {
		case errors.As(err, &nr) && !clusterStarted(o.StateDir, path):
			// An up that failed for want of Docker made no cluster: like
			// kind delete cluster of a missing one, nothing to do.
			o.Logf("no kind cluster %s to delete: groundwork never got as far as creating it, and no container runtime runs here", env.Name)
		case err != nil:
			return err
		default:
			if err := c.Delete(); err != nil {
				return err
			}
			o.Logf("deleted the kind cluster %s", env.Name)
		}
	case o.Uninstall:
		if err := uninstall(ctx, o); err != nil {
			return err
		}
	}
	if o.PurgeRepo {
		if err := purge(ctx, o); err != nil {
			return err
		}
		faults.Point("down:purged")
	}
	if env.Cluster.Remote() {
		// The working directory (and local state, now empty) goes with the
		// cluster; a remote backend keeps its (empty) state.
		if err := os.RemoveAll(facts.Terraform(o.StateDir)); err != nil {
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

// clusterStarted reports whether a kind cluster may exist: its kubeconfig
// is there (kind writes it as it creates the cluster), or the journal in
// stateDir records the cluster step as started (done, unchanged,
// interrupted while running) or a later step. Only a cluster step that
// failed before creating anything, or no record at all, means none does. The
// journal keeps each step's last record: an up that failed for want of
// Docker after an earlier up had made the cluster left the kubeconfig step's
// record and the kubeconfig file.
func clusterStarted(stateDir, kubeconfig string) bool {
	if _, err := os.Stat(kubeconfig); err == nil {
		return true
	}
	j, err := actions.OpenJournal(stateDir)
	if err != nil {
		return true // unreadable: assume the worst
	}
	if _, ok := j.Steps[plan.StepKubeconfig]; ok {
		return true
	}
	rec, ok := j.Steps[plan.StepCluster]
	return ok && rec.State != actions.StateFailed
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
		expires, _ = plan.RecordedExpiry(j)
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
			o.Logf("Terraform's local state of %s (in %s) holds nothing to destroy; if the cluster was made on another machine, its state is there", o.Env.Name, facts.Terraform(o.StateDir))
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

// uninstalled is an engine that has, once its Helm release is gone, objects
// of groundwork's to delete that the running engine needed until then.
type uninstalled interface {
	Uninstalled(ctx context.Context) ([]string, error)
}

// uninstall detaches the engine first (its objects deleted without
// garbage collection, the Secrets groundwork gave it deleted) so that it
// cannot delete what it applied, then removes its Helm release.
func uninstall(ctx context.Context, o Options) error {
	path, kctx := facts.Kubeconfig(o.Env, o.StateDir)
	c, err := kube.Connect(path, kctx)
	if err != nil {
		return err
	}
	if _, err := c.ServerVersion(ctx); err != nil {
		return err
	}
	e := engines.New(gitops.Deps{Env: o.Env, Kube: c, Logf: o.Logf})
	done, err := e.Detach(ctx)
	for _, d := range done {
		o.Logf("deleted %s (what it applied stays)", d)
	}
	if err != nil {
		return err
	}
	faults.Point("down:detached")
	rel := e.Release()
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
	faults.Point("down:uninstalled")
	if u, ok := e.(uninstalled); ok {
		done, err := u.Uninstalled(ctx)
		for _, d := range done {
			o.Logf("deleted %s", d)
		}
		if err != nil {
			return err
		}
	}
	if o.Env.Ephemeral != nil {
		return deleteExpiry(ctx, c, o)
	}
	return nil
}

// deleteExpiry deletes the expiry record of the instance from an existing
// cluster, which outlives it: left behind, the next instance on the
// cluster would take it for its own (and gc would pass that one over, the
// record naming another instance). A record of another instance stays.
func deleteExpiry(ctx context.Context, c *kube.Client, o Options) error {
	cms := c.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace)
	cm, err := cms.Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("read the expiry record %s/%s: %w", facts.ExpiryNamespace, facts.ExpiryConfigMap, err)
	case cm.Data["environment"] != o.Env.Name:
		o.Logf("left the expiry record %s/%s: it records environment %q", facts.ExpiryNamespace, facts.ExpiryConfigMap, cm.Data["environment"])
		return nil
	}
	err = cms.Delete(ctx, facts.ExpiryConfigMap, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the expiry record %s/%s: %w", facts.ExpiryNamespace, facts.ExpiryConfigMap, err)
	}
	o.Logf("deleted the expiry record %s/%s", facts.ExpiryNamespace, facts.ExpiryConfigMap)
	return nil
}

// keptKeys says what stays of the environment's keys, which down never
// deletes.
func keptKeys(env *spec.Environment) string {
	switch env.Secrets.Provider {
	case spec.SecretsSealedSecrets:
		return "the sealing keys stay in their key store"
	case spec.SecretsExternalSecrets:
		return "the secrets stay in AWS Secrets Manager"
	}
	return "the age key stays in its key store"
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
