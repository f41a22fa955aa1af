package drill

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// KindCluster is a kind cluster (named as the drill) the drill makes and
// deletes.
type KindCluster struct {
	Name string
	// Spec is the environment's kind block (node image, nodes); nil for
	// kind's defaults.
	Spec     *spec.KindCluster
	StateDir string
	c        *kind.Cluster
}

// Describe implements Target.
func (k *KindCluster) Describe() string { return "kind cluster " + k.Name }

// Provide creates the cluster.
func (k *KindCluster) Provide(ctx context.Context) (string, string, error) {
	c, err := kind.New(ctx, k.Name, k.Spec, filepath.Join(k.StateDir, facts.KubeconfigFile))
	if err != nil {
		return "", "", err
	}
	k.c = c
	if _, err := c.Ensure(ctx); err != nil {
		return "", "", err
	}
	return c.KubeconfigPath, "", nil
}

// Remove deletes the cluster.
func (k *KindCluster) Remove(ctx context.Context) ([]string, error) {
	if k.c == nil {
		c, err := kind.New(ctx, k.Name, k.Spec, filepath.Join(k.StateDir, facts.KubeconfigFile))
		var nr *kind.NoRuntimeError
		if errors.As(err, &nr) {
			return nil, nil // no Docker: Provide made nothing
		}
		if err != nil {
			return nil, err
		}
		k.c = c
	}
	return nil, k.c.Delete()
}

// UserCluster is a cluster the user provides (--kubeconfig, --context).
// The drill removes from it what it installed: the objects the
// reconciler applied (by deleting what Git declares while the reconciler
// still runs, so that it prunes), the Helm releases, namespaces and CRDs
// that were not there before.
type UserCluster struct {
	Kubeconfig, Context string
	// Live is the environment's own kubeconfig and context: the drill
	// refuses a cluster at the same server.
	LiveKubeconfig, LiveContext string
	Env                         *spec.Environment
	Logf                        func(string, ...any)

	c      *kube.Client
	before snapshot
}

type snapshot struct {
	namespaces, crds, releases []string
	// sealingKeys are the Sealed Secrets controller's key Secrets
	// (namespace/name): restore-keys puts them in its namespace, which may
	// be one that was there before (kube-system).
	sealingKeys []string
}

// Describe implements Target.
func (u *UserCluster) Describe() string {
	if u.Context != "" {
		return "context " + u.Context + " of " + u.Kubeconfig
	}
	return "the cluster of " + u.Kubeconfig
}

// LiveClusterError refuses to drill into the environment's own cluster.
type LiveClusterError struct{ Server, Kubeconfig string }

func (e *LiveClusterError) Error() string {
	return fmt.Sprintf("%s is the environment's own cluster (%s, as its file says): a drill never touches the live cluster. Give --kubeconfig/--context of a scratch cluster, or leave them out for a kind cluster", e.Kubeconfig, e.Server)
}

// Provide connects and remembers what is there before the drill.
func (u *UserCluster) Provide(ctx context.Context) (string, string, error) {
	c, err := kube.Connect(u.Kubeconfig, u.Context)
	if err != nil {
		return "", "", err
	}
	if _, err := c.ServerVersion(ctx); err != nil {
		return "", "", err
	}
	if u.LiveKubeconfig != "" {
		if live, err := kube.Connect(u.LiveKubeconfig, u.LiveContext); err == nil && sameServer(live.Config.Host, c.Config.Host) {
			return "", "", &LiveClusterError{Server: c.Config.Host, Kubeconfig: u.Kubeconfig}
		}
	}
	if err := u.unoccupied(ctx, c); err != nil {
		return "", "", err
	}
	u.c = c
	if u.before, err = u.look(ctx); err != nil {
		return "", "", err
	}
	return u.Kubeconfig, u.Context, nil
}

// OccupiedError refuses a cluster that already has the reconciler's
// namespace: the drill would upgrade, and then remove, a reconciler it did
// not install.
type OccupiedError struct{ Namespace, Kubeconfig string }

func (e *OccupiedError) Error() string {
	return fmt.Sprintf("the cluster of %s already has namespace %s (a reconciler or secrets controller the drill did not install): a drill needs a scratch cluster without it, as it installs and then removes everything there. Give a cluster of its own to the drill, or leave --kubeconfig/--context out for a kind cluster; nothing was touched", e.Kubeconfig, e.Namespace)
}

func (u *UserCluster) unoccupied(ctx context.Context, c *kube.Client) error {
	if u.Env == nil {
		return nil
	}
	ns := u.Env.GitOps.Namespace
	_, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil:
		return &OccupiedError{Namespace: ns, Kubeconfig: u.Kubeconfig}
	case !apierrors.IsNotFound(err):
		return err
	}
	// The secrets controller too: its namespace (kube-system for Sealed
	// Secrets) is often there anyway, so its release or its workload
	// says whether one runs. The drill would upgrade it, and hand a
	// controller it did not install the environment's private keys.
	s := u.Env.Secrets
	if s.Provider != spec.SecretsSealedSecrets && s.Provider != spec.SecretsExternalSecrets {
		return nil
	}
	rel, err := c.Clientset.CoreV1().Secrets(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + s.Chart.Name})
	if err != nil {
		return err
	}
	if len(rel.Items) > 0 {
		return &OccupiedError{Namespace: s.Namespace + " with Helm release " + s.Chart.Name, Kubeconfig: u.Kubeconfig}
	}
	if s.Provider == spec.SecretsSealedSecrets {
		_, err := c.Clientset.AppsV1().Deployments(s.Namespace).Get(ctx, facts.SealedSecretsName, metav1.GetOptions{})
		switch {
		case err == nil:
			return &OccupiedError{Namespace: s.Namespace + " with Deployment " + facts.SealedSecretsName, Kubeconfig: u.Kubeconfig}
		case !apierrors.IsNotFound(err):
			return err
		}
	}
	return nil
}

func sameServer(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (u *UserCluster) look(ctx context.Context) (snapshot, error) {
	var s snapshot
	nss, err := u.c.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return s, err
	}
	for _, n := range nss.Items {
		s.namespaces = append(s.namespaces, n.Name)
	}
	crds, err := u.c.Dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return s, err
	}
	for _, c := range crds.Items {
		s.crds = append(s.crds, c.GetName())
	}
	keys, err := u.c.Clientset.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: sealing.KeyLabel})
	if err != nil {
		return s, err
	}
	for _, k := range keys.Items {
		s.sealingKeys = append(s.sealingKeys, k.Namespace+"/"+k.Name)
	}
	cfg, err := helm.NewConfiguration(u.Kubeconfig, u.Context, "", nil)
	if err != nil {
		return s, err
	}
	l := action.NewList(cfg)
	l.AllNamespaces, l.All = true, true
	rels, err := l.Run()
	if err != nil {
		return s, err
	}
	for _, r := range rels {
		s.releases = append(s.releases, r.Namespace+"/"+r.Name)
	}
	sort.Strings(s.namespaces)
	sort.Strings(s.crds)
	sort.Strings(s.releases)
	return s, nil
}

// reconciled are the kinds whose controllers delete what they applied
// when they go: deleted first, while the controllers still run.
var reconciled = []schema.GroupVersionResource{
	{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"},
	{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"},
	{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"},
	{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"},
}

// ownedCRD says a CRD came with what groundwork installs (the reconciler,
// the secrets controllers).
func ownedCRD(name string) bool {
	for _, g := range []string{".fluxcd.io", ".argoproj.io", "bitnami.com", "external-secrets.io"} {
		if strings.HasSuffix(name, g) {
			return true
		}
	}
	return false
}

// Remove deletes, in order, what appeared since Provide in namespaces that
// were not there: the reconciled objects (their controllers prune what
// they applied), then the new Helm releases, the new namespaces and the
// new CRDs of the kinds groundwork installs. It returns what is still
// there after.
func (u *UserCluster) Remove(ctx context.Context) ([]string, error) {
	if u.c == nil {
		return nil, nil // Provide did not get to the cluster
	}
	logf := u.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	now, err := u.look(ctx)
	if err != nil {
		return nil, err
	}
	newNS := minus(now.namespaces, u.before.namespaces)
	var errs []error
	// The reconciler's own release, which it manages from Git, stays
	// until the reconciler has pruned the rest: pruned first, it would
	// take the reconciler away mid-work.
	own, ownNS := "", ""
	if u.Env != nil {
		own, ownNS = facts.ReconcilerRelease(u.Env)
	}
	keep := func(gvr schema.GroupVersionResource, ns, name string) bool {
		return ns == ownNS && name == own && (gvr.Resource == "helmreleases" || gvr.Resource == "applications")
	}
	if own != "" {
		ri := u.c.Dynamic.Resource(reconciled[1]).Namespace(ownNS)
		_, _ = ri.Patch(ctx, own, types.MergePatchType, []byte(`{"metadata":{"labels":{"kustomize.toolkit.fluxcd.io/prune":"disabled"}}}`), metav1.PatchOptions{})
	}
	// 1. What the reconciler applied goes with the objects that applied
	// it, while the reconciler runs.
	for _, gvr := range reconciled {
		for _, ns := range newNS {
			ri := u.c.Dynamic.Resource(gvr).Namespace(ns)
			list, err := ri.List(ctx, metav1.ListOptions{})
			if err != nil {
				continue // the kind is not served
			}
			for _, o := range list.Items {
				if keep(gvr, ns, o.GetName()) {
					continue
				}
				if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	u.waitGone(ctx, newNS, keep, 2*time.Minute, logf)
	// 2. The Helm releases that were not there (the reconciler's and the
	// secrets controller's; the addons' went with their HelmReleases).
	if now, err = u.look(ctx); err != nil {
		return nil, err
	}
	for _, rel := range minus(now.releases, u.before.releases) {
		ns, name, _ := strings.Cut(rel, "/")
		cfg, err := helm.NewConfiguration(u.Kubeconfig, u.Context, ns, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		un := action.NewUninstall(cfg)
		un.Wait, un.Timeout = true, 2*time.Minute
		if _, err := un.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, fmt.Errorf("uninstall Helm release %s: %w", rel, err))
			continue
		}
		logf("uninstalled Helm release %s", rel)
	}
	// 3. Objects left with finalizers nobody will handle now (their
	// controllers are gone), then the namespaces.
	u.stripFinalizers(ctx, newNS)
	for _, ns := range newNS {
		if err := u.c.Clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	// 4. The sealing keys restore-keys gave the controller.
	for _, k := range minus(now.sealingKeys, u.before.sealingKeys) {
		ns, name, _ := strings.Cut(k, "/")
		if err := u.c.Clientset.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	// 5. The CRDs that came with the charts.
	for _, crd := range minus(now.crds, u.before.crds) {
		if !ownedCRD(crd) {
			continue
		}
		if err := u.c.Dynamic.Resource(crdGVR).Delete(ctx, crd, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	left := u.waitNamespaces(ctx, newNS, 3*time.Minute)
	after, err := u.look(ctx)
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, crd := range minus(after.crds, u.before.crds) {
			if ownedCRD(crd) {
				left = append(left, "CustomResourceDefinition "+crd)
			}
		}
		for _, r := range minus(after.releases, u.before.releases) {
			left = append(left, "Helm release "+r)
		}
		for _, k := range minus(after.sealingKeys, u.before.sealingKeys) {
			left = append(left, "Secret "+k)
		}
	}
	return left, errors.Join(errs...)
}

func (u *UserCluster) waitGone(ctx context.Context, nss []string, keep func(schema.GroupVersionResource, string, string) bool, within time.Duration, logf func(string, ...any)) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		n := 0
		for _, gvr := range reconciled {
			for _, ns := range nss {
				if list, err := u.c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{}); err == nil {
					for _, o := range list.Items {
						if !keep(gvr, ns, o.GetName()) {
							n++
						}
					}
				}
			}
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	logf("the reconciler did not delete everything it applied within %s; removing the rest", within)
}

// stripFinalizers lets go the objects, in the drill's namespaces, of every
// kind the charts groundwork installs define (Flux's HelmCharts, Argo CD's
// Applications): their controllers are gone, nobody would finalize them,
// and the namespaces would stay Terminating.
func (u *UserCluster) stripFinalizers(ctx context.Context, nss []string) {
	crds, err := u.c.Dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, crd := range crds.Items {
		if !ownedCRD(crd.GetName()) {
			continue
		}
		scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		if scope != "Namespaced" || len(versions) == 0 {
			continue
		}
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if served, _ := m["served"].(bool); !served {
				continue
			}
			gvr := schema.GroupVersionResource{Group: group, Version: fmt.Sprint(m["name"]), Resource: plural}
			for _, ns := range nss {
				ri := u.c.Dynamic.Resource(gvr).Namespace(ns)
				list, err := ri.List(ctx, metav1.ListOptions{})
				if err != nil {
					continue
				}
				for _, o := range list.Items {
					if len(o.GetFinalizers()) > 0 {
						_, _ = ri.Patch(ctx, o.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
					}
				}
			}
			break
		}
	}
}

func (u *UserCluster) waitNamespaces(ctx context.Context, nss []string, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		var left []string
		for _, ns := range nss {
			if _, err := u.c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				left = append(left, "Namespace "+ns)
			}
		}
		if len(left) == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return left
		}
		time.Sleep(time.Second)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
