package up

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/render"
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
	creds    *gitrepo.Credentials
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
	r := &Run{opts: opts, seed: sd, creds: sd.Credentials(), descs: map[string]actions.Description{}}
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

// --- cluster and kubeconfig -------------------------------------------------

func (r *Run) kindCluster(ctx context.Context) (*kind.Cluster, error) {
	return kind.New(ctx, r.env().Name, r.env().Cluster.Kind, filepath.Join(r.opts.StateDir, facts.KubeconfigFile))
}

func (r *Run) checkCluster(ctx context.Context) (actions.Status, error) {
	if r.env().Cluster.Remote() {
		return r.checkRemoteCluster(ctx)
	}
	if r.env().Cluster.Provider == spec.ProviderExisting {
		// Adopting is reading: the kubeconfig step checks it answers.
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

// --- reconciler ---------------------------------------------------------------

// engine is the environment's GitOps engine, on the cluster's client once
// the kubeconfig step connected.
func (r *Run) engine() gitops.Engine {
	if r.eng == nil || r.engKube != r.kube {
		d := gitops.Deps{Env: r.env(), Kube: r.kube, Credentials: r.creds, Logf: r.opts.Logf, Now: r.opts.Now}
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
	if err := r.adoptBootstrap(ctx); err != nil {
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
	cfg, err := helm.NewConfiguration(r.kube.Kubeconfig, r.kube.Context, rel.Namespace, r.opts.Logf)
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

// --- secrets --------------------------------------------------------------------

// Identity loads the environment's age identity from its key store, creating
// it in a file store that has none.
func Identity(ctx context.Context, env *spec.Environment, environ []string) (id *age.X25519Identity, created bool, err error) {
	ks := env.Secrets.KeyStore
	switch ks.Type {
	case spec.KeyStoreAWSSecretsManager:
		s, err := keys.NewSecretsManagerStore(ctx, ks.SecretName, ks.Region)
		if err != nil {
			return nil, false, err
		}
		return keys.LoadOrCreateSecretsManager(ctx, s)
	case spec.KeyStoreEnv:
		id, err = keys.EnvStore{Variable: ks.Variable, Environ: environ}.Load()
		return id, false, err
	case spec.KeyStoreFile:
		return keys.LoadOrCreate(keys.FileStore{Path: ks.Path})
	}
	return nil, false, fmt.Errorf("key store %s is not supported here", ks.Type)
}

func (r *Run) ensureIdentity(ctx context.Context) error {
	if r.identity != nil {
		return nil
	}
	id, created, err := Identity(ctx, r.env(), r.opts.Environ)
	if err != nil {
		return err
	}
	if created {
		r.opts.Logf("created the age key of %s in %s", r.env().Name, keyStoreText(r.env().Secrets.KeyStore))
	}
	r.identity, r.seed.Identity = id, id
	return nil
}

func (r *Run) applySecrets(ctx context.Context) error {
	switch r.env().Secrets.Provider {
	case spec.SecretsSealedSecrets:
		return r.applySealedSecrets(ctx)
	case spec.SecretsExternalSecrets:
		return r.applyExternalSecrets(ctx)
	}
	if err := r.ensureIdentity(ctx); err != nil {
		return err
	}
	s := secret(r.env().GitOps.Namespace, facts.AgeSecret, map[string][]byte{facts.AgeSecretKey: []byte(r.identity.String() + "\n")})
	changed, err := r.kube.Apply(ctx, s)
	if err != nil {
		return err
	}
	r.output(plan.StepSecrets, "recipient", r.identity.Recipient().String())
	if !changed {
		return actions.NoChange
	}
	return nil
}

func secret(namespace, name string, data map[string][]byte) *unstructured.Unstructured {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "groundwork"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	return toUnstructured(s)
}

func toUnstructured(obj runtime.Object) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err) // typed objects always convert
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

// --- seed -----------------------------------------------------------------------

// Render renders the environment's repository files (creating the age key
// of a SOPS environment that has none).
func (r *Run) Render(ctx context.Context) ([]render.File, error) {
	if r.env().Secrets.Provider == spec.SecretsSOPS {
		if err := r.ensureIdentity(ctx); err != nil {
			return nil, err
		}
	}
	return r.seed.Render(ctx)
}

// Git returns the client of the environment's repository.
func (r *Run) Git() (*gitrepo.Client, error) { return r.seed.Git() }

// CheckRepository reads the repository and works out what the seed step
// will do to it (see seed.Seeder.Check).
func (r *Run) CheckRepository(ctx context.Context) (*seed.Check, error) {
	c, err := r.seed.Check(ctx)
	if err != nil {
		return nil, err
	}
	r.repo = c
	return c, nil
}

func (r *Run) applySeed(ctx context.Context) error {
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	git, err := r.Git()
	if err != nil {
		return err
	}
	g := r.env().GitOps
	if r.repo == nil || r.repo.KeyPending {
		if _, err := r.CheckRepository(ctx); err != nil {
			return err
		}
	}
	if len(r.repo.Retiring) > 0 {
		// Before the push: the Kustomization that applied them must not
		// prune them, nor they what they applied.
		done, err := r.engine().Retire(ctx, r.repo.Retiring)
		if err != nil {
			return err
		}
		if len(done) > 0 {
			r.opts.Logf("retiring Kustomizations %s (an older groundwork's names): what they applied stays, taken over by groundwork-*", strings.Join(done, ", "))
		}
	}
	res, err := git.Apply(ctx, r.seed.Change(files))
	var ce *gitrepo.ConflictError
	if errors.As(err, &ce) {
		return &seed.ConflictError{URL: g.Repository.URL, Branch: g.Repository.Branch, Files: ce.Conflicts}
	}
	if err != nil {
		return err
	}
	r.Revision = res.Revision
	r.output(plan.StepSeed, "revision", res.Revision)
	r.opts.Logf("repository %s at %s (changed: %t, attempts: %d)", g.Repository.URL, res.Revision, res.Changed, res.Attempts)
	if !res.Changed {
		return actions.NoChange
	}
	return nil
}

// --- sync -----------------------------------------------------------------------

func (r *Run) applySync(ctx context.Context) error {
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	return r.attach(ctx, render.FileMap(files))
}

// attach points the engine at the repository with the sync objects files
// declare.
func (r *Run) attach(ctx context.Context, files map[string][]byte) error {
	var opts render.Options
	if err := r.seed.NotificationOptions(&opts); err != nil {
		return err
	}
	changed, err := r.engine().Attach(ctx, files, gitops.AttachOptions{NotificationURLs: opts.NotificationURLs})
	if err != nil {
		return err
	}
	if !changed {
		return actions.NoChange
	}
	return nil
}

// --- expiry ---------------------------------------------------------------------

func (r *Run) applyExpiry(ctx context.Context) error {
	cms := r.kube.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace)
	if cm, err := cms.Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{}); err == nil {
		if t, err := time.Parse(time.RFC3339, cm.Data["expires"]); err == nil {
			r.Expires = t
			return actions.NoChange
		}
	}
	r.Expires = r.opts.Now().Add(r.env().Ephemeral.TTL).UTC().Truncate(time.Second)
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
