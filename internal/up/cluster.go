package up

import (
	"context"
	"os"
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// --- cluster and kubeconfig -------------------------------------------------

func (r *Run) kindCluster(ctx context.Context) (*kind.Cluster, error) {
	return kind.New(ctx, r.env().Name, r.env().Cluster.Kind, filepath.Join(r.opts.StateDir, facts.KubeconfigFile))
}

func (r *Run) checkCluster(ctx context.Context) (actions.Status, error) {
	if r.env().Cluster.Remote() {
		return r.checkRemoteCluster(ctx)
	}
	if e := r.env().Cluster.Existing; r.env().Cluster.Provider == spec.ProviderExisting {
		// Adopting is reading: the kubeconfig step checks it answers. An
		// EKS cluster's kubeconfig is written then; any other must be
		// there, with its context, before the step counts as done.
		if e == nil || e.EKS == nil {
			path, kctx := facts.Kubeconfig(r.env(), r.opts.StateDir)
			if _, err := kube.Connect(path, kctx); err != nil {
				return actions.Status{}, err
			}
		}
		return actions.Status{Done: true, Reason: "existing cluster, adopted as it is"}, nil
	}
	c, err := r.kindCluster(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	ok, err := c.Exists()
	if err != nil || !ok {
		return actions.Status{}, err
	}
	if _, err := os.Stat(c.KubeconfigPath); err != nil {
		return actions.Status{}, nil
	}
	return actions.Status{Done: true, Reason: "kind cluster " + c.Name + " exists"}, nil
}

func (r *Run) applyCluster(ctx context.Context) error {
	if r.env().Cluster.Remote() {
		return r.applyRemoteCluster(ctx)
	}
	c, err := r.kindCluster(ctx)
	if err != nil {
		return err
	}
	_, err = c.Ensure(ctx)
	return err
}

func (r *Run) checkKubeconfig(ctx context.Context) (actions.Status, error) {
	switch e := r.env().Cluster.Existing; {
	case r.env().Cluster.Remote():
		// From the module's outputs, on every run: an EKS token expires.
		if err := r.writeRemoteKubeconfig(ctx); err != nil {
			return actions.Status{}, err
		}
	case e != nil && e.EKS != nil:
		if err := r.adoptEKS(ctx); err != nil {
			return actions.Status{}, err
		}
	}
	path, kctx := facts.Kubeconfig(r.env(), r.opts.StateDir)
	c, err := kube.Connect(path, kctx)
	if err != nil {
		return actions.Status{}, err
	}
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	r.kube, r.Kubeconfig, r.ServerVersion = c, path, v
	r.output(plan.StepKubeconfig, "path", path)
	r.output(plan.StepKubeconfig, "server", c.Config.Host)
	r.output(plan.StepKubeconfig, "version", v)
	r.opts.Logf("cluster %s answers, Kubernetes %s", c.Config.Host, v)
	return actions.Status{Done: true, Reason: "Kubernetes " + v + " at " + c.Config.Host}, nil
}

// Client is the cluster's client once the kubeconfig step ran.
func (r *Run) Client() *kube.Client { return r.kube }
