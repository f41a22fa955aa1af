package up

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/release"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
)

// --- reconciler ---------------------------------------------------------------

// engine is the environment's GitOps engine, on the cluster's client once
// the kubeconfig step connected.
func (r *Run) engine() gitops.Engine {
	if r.eng == nil || r.engKube != r.kube {
		d := gitops.Deps{Env: r.env(), Kube: r.kube, Credentials: r.seed.Credentials(), Logf: r.opts.Logf, Now: r.opts.Now}
		if git, err := r.Git(); err == nil {
			d.IsAncestor = git.IsAncestor
		}
		r.eng, r.engKube = engines.New(d), r.kube
	}
	return r.eng
}

func (r *Run) applyReconciler(ctx context.Context) error {
	if r.seed.Snapshot != nil {
		r.declaredChart()
	}
	owned, why, err := r.engine().OwnsRelease(ctx)
	if err != nil {
		return err
	}
	if owned {
		r.opts.Logf("%s", why)
		return actions.NoChange
	}
	if r.repo != nil && r.repo.Bootstrap != "" {
		if err := r.engine().TakeOverBootstrap(ctx, r.repo.Preview.Tree, r.repo.Bootstrap); err != nil {
			return err
		}
	}
	if err := r.engine().Prepare(ctx); err != nil {
		return err
	}
	out, err := r.ensureRelease(ctx, r.engine().Release())
	if err != nil {
		return err
	}
	if out == helm.Unchanged {
		return actions.NoChange
	}
	return nil
}

// ensureRelease installs or upgrades a release with the Helm SDK, waiting
// for its workloads and explaining those that do not become ready.
func (r *Run) ensureRelease(ctx context.Context, rel helm.Release) (helm.Outcome, error) {
	// Named after the release: rebuild installs two side by side.
	logf := func(format string, args ...any) { r.opts.Logf("%s: %s", rel.Name, fmt.Sprintf(format, args...)) }
	cfg, err := helm.NewConfiguration(r.kube.Kubeconfig, r.kube.Context, rel.Namespace, logf)
	if err != nil {
		return "", err
	}
	inst := &helm.Installer{
		Config: cfg, CacheDir: r.opts.CacheDir, PlainHTTP: r.opts.ChartPlainHTTP, Timeout: r.env().GitOps.Sync.Timeout,
		Explain: func(ctx context.Context, hr *release.Release) error {
			_, err := health.Check(ctx, r.kube.Clientset, hr.Manifest, hr.Namespace)
			return err
		},
	}
	out, err := inst.Ensure(ctx, rel)
	if err != nil {
		return "", err
	}
	r.opts.Logf("helm release %s/%s: %s", rel.Namespace, rel.Name, out)
	return out, nil
}
