package up

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/seed"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// UnsupportedError says the environment asks for something up cannot do
// yet.
type UnsupportedError struct{ What, Meanwhile string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s is not implemented yet. %s", e.What, e.Meanwhile)
}

// Options are what up needs beyond the spec.
type Options struct {
	Env      *spec.Environment
	StateDir string
	// Environ is the process environment (token_env, the env key store).
	Environ []string
	// CacheDir keeps downloaded charts; empty means the user's cache dir.
	CacheDir string
	// Journal carries outputs between steps and runs.
	Journal *actions.Journal
	// Logf gets verbose lines; nil drops them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ChartPlainHTTP allows an oci:// chart source served without TLS.
	ChartPlainHTTP bool
	// Adopt lists repository paths the user hands over to groundwork (up
	// --adopt-file): written over although they lack the managed header.
	Adopt []string
	// TakeOverBootstrap hands a Flux installed by flux bootstrap, and its
	// files in the environment's folder, over to groundwork.
	TakeOverBootstrap bool
}

// Run is one run of up: its steps and what they learn.
type Run struct {
	opts  Options
	descs map[string]actions.Description

	kube     *kube.Client
	seed     *seed.Seeder // the repository's files and the seed change
	identity *age.X25519Identity
	// legacyLayout says the repository has the layout of an older
	// groundwork (its files not yet in groundwork/).
	legacyLayout bool
	repo         *seed.Check      // what CheckRepository found
	sealing      sealing.Keys     // every sealing key pair, oldest first
	tf           TerraformOptions // how a cloud cluster's steps drive Terraform
	eng          gitops.Engine    // the GitOps engine, on r.kube
	engKube      *kube.Client     // the client eng was made with

	// Outcomes for the caller's report.
	Kubeconfig    string
	ServerVersion string
	Revision      string
	Expires       time.Time
	Custody       *custody.Report // whether Git and the key store agree (seed, rebuild's Preflight)
}

// New checks that up can handle the environment and prepares its run.
func New(opts Options) (*Run, error) {
	env := opts.Env
	switch {
	case env.Secrets.Provider == spec.SecretsSealedSecrets && env.Secrets.KeyStore.Type != spec.KeyStoreFile:
		return nil, &UnsupportedError{What: "Keeping the sealing key in a " + env.Secrets.KeyStore.Type + " key store", Meanwhile: "Use key_store \"file\" with sealed-secrets meanwhile."}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory for charts: %w", err)
		}
		opts.CacheDir = filepath.Join(dir, "groundwork", "charts")
	}
	sd, err := seed.New(seed.Options{Env: env, Environ: opts.Environ, Adopt: opts.Adopt, TakeOverBootstrap: opts.TakeOverBootstrap, Logf: opts.Logf})
	if err != nil {
		return nil, err
	}
	r := &Run{opts: opts, seed: sd, descs: map[string]actions.Description{}}
	for _, d := range plan.Build(env, plan.Options{StateDir: opts.StateDir}).Steps {
		r.descs[d.Name] = d
	}
	return r, nil
}

// UseJournal makes the steps record their outputs in j.
func (r *Run) UseJournal(j *actions.Journal) { r.opts.Journal = j }

// Steps are up's steps in order.
func (r *Run) Steps() []actions.Step {
	var steps []actions.Step
	if r.opts.Env.Cluster.Remote() {
		steps = append(steps, &step{r, plan.StepState, r.checkState, r.applyState})
	}
	steps = append(steps,
		&step{r, plan.StepCluster, r.checkCluster, r.applyCluster},
		&step{r, plan.StepKubeconfig, r.checkKubeconfig, nil},
		&step{r, plan.StepReconciler, nil, r.applyReconciler},
		&step{r, plan.StepSecrets, nil, r.applySecrets},
		&step{r, plan.StepSeed, nil, r.applySeed},
		&step{r, plan.StepSync, nil, r.applySync},
	)
	if r.opts.Env.Ephemeral != nil {
		steps = append(steps, &step{r, plan.StepExpiry, nil, r.applyExpiry})
	}
	return append(steps, &step{r, plan.StepWait, r.checkWait, r.applyWait})
}

// step adapts a pair of Run methods to actions.Step. A nil check means the
// apply finds out itself (and returns actions.NoChange); a nil apply means
// the check does all the work.
type step struct {
	r     *Run
	name  string
	check func(context.Context) (actions.Status, error)
	apply func(context.Context) error
}

func (s *step) Plan() actions.Description { return s.r.descs[s.name] }

func (s *step) Check(ctx context.Context) (actions.Status, error) {
	if s.check == nil {
		return actions.Status{}, nil
	}
	return s.check(ctx)
}

func (s *step) Apply(ctx context.Context) error {
	if s.apply == nil {
		return actions.NoChange
	}
	return s.apply(ctx)
}

func (r *Run) env() *spec.Environment { return r.opts.Env }

func (r *Run) output(step, key, value string) {
	if r.opts.Journal != nil {
		r.opts.Journal.SetOutput(step, key, value)
	}
}

// --- the instance and its expiry ------------------------------------------------

// RecordInstance records an ephemeral instance in its state directory before
// the first step that may create something: its expiry (fixed by its first
// run, so that neither its cloud tags nor its expiry record change on later
// runs) in the journal, saved at once. gc finds an instance by that record
// even when up failed before its expiry step, so a cluster left by a failed
// run is not orphaned. It does nothing for an environment that is not
// ephemeral.
func (r *Run) RecordInstance() error {
	if r.env().Ephemeral == nil || r.opts.Journal == nil {
		return nil
	}
	r.instanceExpires()
	return r.opts.Journal.Save()
}

// instanceExpires is the instance's expiry: as its first run recorded it,
// else now plus its TTL, recorded.
func (r *Run) instanceExpires() time.Time {
	if r.env().Ephemeral == nil {
		return time.Time{}
	}
	if r.opts.Journal != nil {
		if t, ok := plan.RecordedExpiry(r.opts.Journal); ok {
			return t
		}
	}
	t := r.opts.Now().Add(r.env().Ephemeral.TTL).UTC().Truncate(time.Second)
	r.output(plan.StepExpiry, "expires", t.Format(time.RFC3339))
	return t
}

func (r *Run) applyExpiry(ctx context.Context) error {
	cms := r.kube.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace)
	// The instance's own record stands (a second up keeps the expiry); a
	// record of another instance (an existing cluster outlives its
	// instances) is replaced.
	if cm, err := cms.Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{}); err == nil && cm.Data["environment"] == r.env().Name {
		if t, err := time.Parse(time.RFC3339, cm.Data["expires"]); err == nil {
			r.Expires = t
			r.output(plan.StepExpiry, "expires", r.Expires.Format(time.RFC3339))
			return actions.NoChange
		}
	}
	r.Expires = r.instanceExpires()
	ns := toUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: facts.ExpiryNamespace}})
	cm := toUnstructured(&corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: facts.ExpiryNamespace, Name: facts.ExpiryConfigMap, Labels: map[string]string{"app.kubernetes.io/managed-by": "groundwork"}},
		// What gc needs to delete the instance without its spec: when, and
		// where its folder in the repository is.
		Data: map[string]string{
			"environment": r.env().Name,
			"ttl":         spec.FormatDuration(r.env().Ephemeral.TTL),
			"expires":     r.Expires.Format(time.RFC3339),
			"repository":  r.env().GitOps.Repository.URL,
			"branch":      r.env().GitOps.Repository.Branch,
			"path":        r.env().GitOps.Repository.Path,
			"token_env":   r.env().GitOps.Repository.Auth.TokenEnv,
		},
	})
	_, err := r.kube.ApplyAll(ctx, []*unstructured.Unstructured{ns, cm})
	r.output(plan.StepExpiry, "expires", r.Expires.Format(time.RFC3339))
	return err
}

// --- wait -----------------------------------------------------------------------

func (r *Run) checkWait(ctx context.Context) (actions.Status, error) {
	if r.Revision == "" {
		return actions.Status{}, errors.New("no seeded revision to wait for")
	}
	req, err := r.required(ctx)
	if err != nil {
		return actions.Status{}, err
	}
	_, ok, err := r.engine().Look(ctx, r.Revision, req)
	if err != nil && kube.Transient(err) {
		// The API server restarting, say: the wait rides it out, as it
		// rides out the same error on its later looks.
		return actions.Status{}, nil
	}
	if err != nil || !ok {
		return actions.Status{}, err
	}
	return actions.Status{Done: true, Reason: fmt.Sprintf("every %s applied %s", r.engine().Kind(), r.Revision)}, nil
}

// required are what the wait step waits for: every object the repository
// declares for the engine under the environment's path once the seed
// commit is in (groundwork's and the user's).
func (r *Run) required(ctx context.Context) ([]string, error) {
	if r.repo == nil {
		if _, err := r.CheckRepository(ctx); err != nil {
			return nil, err
		}
	}
	return r.repo.Declared, nil
}

func (r *Run) applyWait(ctx context.Context) error {
	req, err := r.required(ctx)
	if err != nil {
		return err
	}
	return r.engine().Wait(ctx, r.Revision, req)
}
