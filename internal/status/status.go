package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
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
		// Engine is the reconciler: flux (Objects are the GitRepository,
		// the Kustomizations and the HelmReleases) or argocd (Objects are
		// the Applications, with their sync and health statuses).
		Engine string `json:"engine"`
		// EngineName is the engine's name as people write it.
		EngineName string          `json:"engine_name"`
		Revision   string          `json:"revision,omitempty"`
		InSync     bool            `json:"in_sync"`
		Objects    []gitops.Object `json:"objects"`
		Error      string          `json:"error,omitempty"`
	} `json:"sync"`
	// Notifications are the notification targets' last deliveries (nil
	// without a notifications block). They do not count towards Healthy:
	// the environment is as healthy with a webhook that refuses.
	Notifications *Notifications `json:"notifications,omitempty"`
	// ExternalSecrets is groundwork's ClusterSecretStore and the
	// ExternalSecrets of every namespace (nil unless the secrets provider
	// is external-secrets). It counts towards Healthy: with the store not
	// ready, no Secret comes from Secrets Manager.
	ExternalSecrets *ExternalSecretsStatus `json:"external_secrets,omitempty"`
	// Custody is whether Git and the key store agree (SetCustody; nil
	// when not checked). A mismatch counts towards Healthy: a rebuild
	// would not decrypt what Git holds. A check that could not run (no
	// key here, the repository unreachable) does not.
	Custody *custody.Report `json:"custody,omitempty"`
}

// SetCustody adds the key-custody check's report (custody.Check).
func (r *Report) SetCustody(c *custody.Report) {
	r.Custody = c
	r.Healthy = r.healthy()
}

// Collect looks at env's cluster through the kubeconfig up uses.
func Collect(ctx context.Context, env *spec.Environment, stateDir string) *Report {
	r := &Report{Environment: env.Name}
	path, kctx := facts.Kubeconfig(env, stateDir)
	r.Cluster.Kubeconfig = path
	name, ns := facts.ReconcilerRelease(env)
	r.Reconciler.Release = ns + "/" + name
	r.Reconciler.WantsVersion = env.GitOps.Version
	r.Sync.Objects = []gitops.Object{}
	r.Sync.Engine = env.GitOps.Engine
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
	e := engines.New(gitops.Deps{Env: env, Kube: c})
	r.Sync.EngineName = e.Name()
	reconciler(ctx, r, c, e.Release())
	objs, ok, err := e.Look(ctx, "", nil)
	if err != nil {
		r.Sync.Error = err.Error()
	} else {
		r.Sync.Objects, r.Sync.InSync = objs, ok && len(objs) > 0
		kind, name := e.SyncRoot()
		for _, o := range objs {
			if o.Kind == kind && o.Name == name {
				r.Sync.Revision = o.Revision
			}
		}
	}
	if env.Notifications != nil {
		r.Notifications = e.Notifications(ctx, time.Now())
	}
	if env.Secrets.Provider == spec.SecretsExternalSecrets {
		r.ExternalSecrets = externalSecrets(ctx, c, env)
	}
	r.Healthy = r.healthy()
	return r
}

// healthy: the cluster answers, the reconciler is installed with its
// workloads ready and applied the repository, External Secrets (when
// used) syncs, and Git and the key store agree. Notifications do not
// count.
func (r *Report) healthy() bool {
	return r.Cluster.Reachable && r.Reconciler.Installed && r.Reconciler.WorkloadsOK && r.Sync.InSync &&
		(r.ExternalSecrets == nil || r.ExternalSecrets.OK) && !r.CustodyMismatch()
}

// CustodyMismatch reports whether the key-custody check found Git holding
// what the key store cannot decrypt.
func (r *Report) CustodyMismatch() bool {
	return r.Custody != nil && r.Custody.State == custody.StateMismatch
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
