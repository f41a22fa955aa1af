package status

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/groundwork-dev/groundwork/internal/flux"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// Report is what Collect found.
type Report struct {
	Environment string `json:"environment"`
	Healthy     bool   `json:"healthy"`
	Cluster     struct {
		Kubeconfig        string `json:"kubeconfig"`
		Server            string `json:"server,omitempty"`
		Reachable         bool   `json:"reachable"`
		KubernetesVersion string `json:"kubernetes_version,omitempty"`
		Error             string `json:"error,omitempty"`
	} `json:"cluster"`
	Reconciler struct {
		Release      string   `json:"release"`
		Installed    bool     `json:"installed"`
		Status       string   `json:"status,omitempty"`
		Chart        string   `json:"chart,omitempty"`
		Revision     int      `json:"revision,omitempty"`
		WorkloadsOK  bool     `json:"workloads_ready"`
		NotReady     []string `json:"not_ready,omitempty"`
		WantsVersion string   `json:"wanted_version"`
	} `json:"reconciler"`
	Sync struct {
		Revision string        `json:"revision,omitempty"`
		InSync   bool          `json:"in_sync"`
		Objects  []flux.Object `json:"objects"`
		Error    string        `json:"error,omitempty"`
	} `json:"sync"`
}

// Collect looks at env's cluster through the kubeconfig up uses.
func Collect(ctx context.Context, env *spec.Environment, stateDir string) *Report {
	r := &Report{Environment: env.Name}
	path, kctx := up.Kubeconfig(env, stateDir)
	r.Cluster.Kubeconfig = path
	rel := up.ReconcilerRelease(env)
	r.Reconciler.Release = rel.Namespace + "/" + rel.Name
	r.Reconciler.WantsVersion = rel.Version
	r.Sync.Objects = []flux.Object{}
	c, err := kube.Connect(path, kctx)
	if err != nil {
		r.Cluster.Error = err.Error()
		return r
	}
	r.Cluster.Server = c.Config.Host
	v, err := c.ServerVersion(ctx)
	if err != nil {
		r.Cluster.Error = err.Error()
		return r
	}
	r.Cluster.Reachable, r.Cluster.KubernetesVersion = true, v
	reconciler(ctx, r, c, rel)
	w := &flux.Waiter{Client: c, Namespace: env.GitOps.Namespace}
	objs, ok, err := w.Status(ctx)
	if err != nil {
		r.Sync.Error = err.Error()
	} else {
		r.Sync.Objects, r.Sync.InSync = objs, ok
		if len(objs) > 0 {
			r.Sync.Revision = objs[0].Revision
		}
	}
	r.Healthy = r.Cluster.Reachable && r.Reconciler.Installed && r.Reconciler.WorkloadsOK && r.Sync.InSync
	return r
}

func reconciler(ctx context.Context, r *Report, c *kube.Client, rel helm.Release) {
	cfg, err := helm.NewConfiguration(c.Kubeconfig, c.Context, rel.Namespace, nil)
	if err != nil {
		r.Reconciler.NotReady = []string{err.Error()}
		return
	}
	got, err := action.NewStatus(cfg).Run(rel.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return
	}
	if err != nil {
		r.Reconciler.NotReady = []string{fmt.Sprintf("read release: %v", err)}
		return
	}
	r.Reconciler.Installed = true
	r.Reconciler.Status = got.Info.Status.String()
	r.Reconciler.Revision = got.Version
	if got.Chart != nil && got.Chart.Metadata != nil {
		r.Reconciler.Chart = got.Chart.Metadata.Name + " " + got.Chart.Metadata.Version
	}
	_, err = health.Check(ctx, c.Clientset, got.Manifest, rel.Namespace)
	var nr *health.NotReadyError
	switch {
	case errors.As(err, &nr):
		for _, o := range nr.Objects {
			r.Reconciler.NotReady = append(r.Reconciler.NotReady, o.String())
		}
	case err != nil:
		r.Reconciler.NotReady = []string{err.Error()}
	default:
		r.Reconciler.WorkloadsOK = true
	}
}
