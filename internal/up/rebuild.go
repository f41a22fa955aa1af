package up

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Step names of rebuild that up does not have.
const (
	StepRestoreKeys = "restore-keys"
	StepRestoreSeed = "restore-missing-files"
)

// MissingKeyError stops a rebuild whose key store has no key: without it
// the repository's secrets cannot be decrypted.
type MissingKeyError struct {
	Environment, Where string
	// Provider is the secrets provider (spec.Secrets*); empty: guessed
	// from Where.
	Provider string
}

func (e *MissingKeyError) Error() string {
	if e.Provider == spec.SecretsSealedSecrets || e.Provider == "" && (strings.Contains(e.Where, "sealed-secrets") || strings.HasSuffix(e.Where, ".pem")) {
		return fmt.Sprintf("the sealing keys of environment %s are missing: no key at %s. rebuild gives them back to the Sealed Secrets controller before it starts, and without them the SealedSecrets in the repository cannot be decrypted. Put the key store back (from your backup), or point secrets.key_store at where it is; nothing was touched", e.Environment, e.Where)
	}
	return fmt.Sprintf("the age key of environment %s is missing: no key at %s. rebuild restores the key from there before the reconciler starts, and without it the SOPS-encrypted Secrets in the repository cannot be decrypted. Put the key back (from your backup of the key store), or point secrets.key_store at where it is; nothing was touched", e.Environment, e.Where)
}

// Preflight checks, touching nothing, what rebuild needs before it may
// touch the cluster: the key in the key store, a seeded repository, and
// that what the repository holds decrypts with that key (key custody: a
// *custody.MismatchError otherwise).
func (r *Run) Preflight(ctx context.Context) error {
	err := r.loadKeys(ctx)
	var nf *keys.NotFoundError
	if errors.As(err, &nf) {
		return &MissingKeyError{Environment: r.env().Name, Where: nf.Where, Provider: r.env().Secrets.Provider}
	}
	if err != nil {
		return err
	}
	git, err := r.Git()
	if err != nil {
		return err
	}
	p := r.env().GitOps.Repository.Path
	snap, err := git.Read(ctx, p)
	if err != nil {
		return err
	}
	if _, err := r.engine().SyncObjects(ctx, snap.Files, gitops.AttachOptions{}); err != nil {
		return fmt.Errorf("%s has no usable %s/%s on branch %s (%v): there is nothing to rebuild from; run groundwork up to create the environment", r.env().GitOps.Repository.URL, p, r.engine().SyncFile(), r.env().GitOps.Repository.Branch, err)
	}
	// A repository seeded by groundwork before its files moved into
	// groundwork/ is rebuilt as it is (up moves it).
	_, current := snap.Files[path.Join(p, r.engine().SyncFile())]
	r.legacyLayout = !current
	r.seed.Snapshot, r.Revision = snap, snap.Revision
	// Git's secrets must decrypt with the keys about to be restored.
	return r.checkCustody(ctx, git, snap.Files)
}

// loadKeys loads the environment's keys from its key store, creating
// nothing: a missing key is a *keys.NotFoundError.
func (r *Run) loadKeys(ctx context.Context) error {
	s := r.env().Secrets
	ks := s.KeyStore
	var err error
	switch {
	case s.Provider == spec.SecretsExternalSecrets:
		// No key of groundwork's: the secrets stay in the external store.
	case s.Provider == spec.SecretsSealedSecrets:
		r.sealing, err = sealing.LoadKeys(ks.Path)
	default:
		r.identity, err = keys.LoadIdentity(ctx, ks, r.opts.Environ)
		r.seed.Identity = r.identity
	}
	return err
}

// RebuildSteps are rebuild's steps in order: the cluster, the keys before
// the reconciler, the reconciler at the version Git declares, the files
// groundwork owns that are missing (nothing else), the sync objects as Git
// has them, and the wait for everything Git declares.
func (r *Run) RebuildSteps() []actions.Step {
	d := func(name, title string, acts ...actions.Action) {
		r.descs[name] = actions.Description{Name: name, Title: title, Actions: acts, Fingerprint: actions.Fingerprint([]any{name, r.env().Name})}
	}
	g := r.env().GitOps
	s := r.env().Secrets
	rd := r.descs[plan.StepReconciler]
	rd.Title = "Reinstall " + r.engine().Name() + " with Helm at the version Git declares"
	switch s.Provider {
	case spec.SecretsSealedSecrets:
		d(StepRestoreKeys, "Restore the sealing keys",
			actions.Action{Op: actions.OpRead, Resource: "every sealing key pair in " + keyStoreText(s.KeyStore)},
			actions.Action{Op: actions.OpCreate, Resource: "Secrets " + s.Namespace + "/" + SealingKeySecret + "[-<id>]", Detail: "one per stored key, labelled as the controller's active keys, before the controller starts"})
		rd.Title += ", and Sealed Secrets beside it"
		rd.Actions = append(append([]actions.Action{}, rd.Actions...),
			actions.Action{Op: actions.OpCreate, Resource: "Helm release " + s.Namespace + "/" + s.Chart.Name + " " + s.Version, Detail: "at the same time as the reconciler's"})
	case spec.SecretsExternalSecrets:
		// No key of groundwork's to restore: the secrets stay in the
		// external store.
		rd.Title += ", and External Secrets Operator beside it"
		rd.Actions = append(append([]actions.Action{}, rd.Actions...),
			actions.Action{Op: actions.OpCreate, Resource: "Helm release " + s.Namespace + "/" + s.Chart.Name + " " + s.Version, Detail: "at the same time as the reconciler's"},
			actions.Action{Op: actions.OpCreate, Resource: "ClusterSecretStore " + facts.ClusterSecretStore})
	default:
		d(StepRestoreKeys, "Restore the age key into the cluster",
			actions.Action{Op: actions.OpRead, Resource: "age key in " + keyStoreText(s.KeyStore)},
			actions.Action{Op: actions.OpCreate, Resource: "Secret " + g.Namespace + "/" + facts.AgeSecret, Detail: "before the reconciler starts"})
	}
	r.descs["rebuild-"+plan.StepReconciler] = rd
	d(StepRestoreSeed, "Restore missing files groundwork owns in the repository",
		actions.Action{Op: actions.OpCreate, Resource: g.Repository.Path + "/", Detail: "only files groundwork manages that are missing; nothing users changed is touched, and no commit when nothing is missing"})
	sd := r.descs[plan.StepSync]
	sd.Title = "Point the reconciler at the repository, as Git declares it"
	r.descs["rebuild-"+plan.StepSync] = sd
	wd := r.descs[plan.StepWait]
	wd.Title = "Wait until everything Git declares is applied"
	r.descs["rebuild-"+plan.StepWait] = wd
	steps := []actions.Step{
		&step{r, plan.StepCluster, r.checkCluster, r.applyCluster},
		&step{r, plan.StepKubeconfig, r.checkKubeconfig, nil},
	}
	if _, ok := r.descs[StepRestoreKeys]; ok {
		steps = append(steps, &step{r, StepRestoreKeys, nil, r.applyRestoreKeys})
	}
	return append(steps,
		&step{r, "rebuild-" + plan.StepReconciler, nil, r.applyRebuildReconciler},
		&step{r, StepRestoreSeed, nil, r.applyRestoreSeed},
		&step{r, "rebuild-" + plan.StepSync, nil, r.applyGitSync},
		&step{r, "rebuild-" + plan.StepWait, nil, r.applyGitWait},
	)
}

func keyStoreText(ks spec.KeyStore) string {
	switch ks.Type {
	case spec.KeyStoreEnv:
		return "environment variable " + ks.Variable
	case spec.KeyStoreAWSSecretsManager:
		return "AWS Secrets Manager secret " + ks.SecretName + " in " + ks.Region
	}
	return ks.Type + " " + ks.Path
}

// applyRestoreKeys puts the keys back before anything that reads them
// starts: the age key for the reconciler, the sealing keys for the Sealed
// Secrets controller.
func (r *Run) applyRestoreKeys(ctx context.Context) error {
	if r.env().Secrets.Provider == spec.SecretsSealedSecrets {
		return r.applySealingKeys(ctx)
	}
	ns := r.env().GitOps.Namespace
	nsObj := toUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
	changed, err := r.kube.ApplyAll(ctx, []*unstructured.Unstructured{nsObj, r.ageSecret()})
	if err != nil {
		return err
	}
	if !changed {
		return actions.NoChange
	}
	return nil
}

// applyRebuildReconciler installs the reconciler and, at the same time, the
// secrets controller (Sealed Secrets, whose keys restore-keys put back, or
// External Secrets Operator and its store): neither needs the other, and
// one after the other they would add their times to the recovery time.
// Both run to their end whatever the other does (an install cancelled
// midway would only leave more to clean up); the step fails with every
// error.
func (r *Run) applyRebuildReconciler(ctx context.Context) error {
	// What the reconciler's apply changes on the Run (the chart version Git
	// declares, the engine made on first use) is settled before the two
	// run side by side: the secrets controller's apply only reads the
	// environment's secrets block, the cluster's client and the logger.
	if r.seed.Snapshot != nil {
		r.declaredChart()
	}
	r.engine()
	switch r.env().Secrets.Provider {
	case spec.SecretsSealedSecrets:
		return sideBySide(ctx, r.applyReconciler, r.applySealedSecretsRelease)
	case spec.SecretsExternalSecrets:
		return sideBySide(ctx, r.applyReconciler, r.applyExternalSecrets)
	}
	return r.applyReconciler(ctx)
}

// sideBySide runs the applies at the same time and waits for all of them.
// It returns actions.NoChange when every one changed nothing, and otherwise
// the errors there were (joined).
func sideBySide(ctx context.Context, applies ...func(context.Context) error) error {
	errs := make([]error, len(applies))
	var wg sync.WaitGroup
	for i, apply := range applies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = apply(ctx)
		}()
	}
	wg.Wait()
	unchanged := 0
	var failed []error
	for _, err := range errs {
		switch {
		case errors.Is(err, actions.NoChange):
			unchanged++
		case err != nil:
			failed = append(failed, err)
		}
	}
	switch {
	case len(failed) > 0:
		return errors.Join(failed...)
	case unchanged == len(applies):
		return actions.NoChange
	}
	return nil
}

// declaredChart takes the engine's version (and source) from what Git
// declares, so that a version bumped in Git after bootstrap is the one
// reinstalled.
func (r *Run) declaredChart() {
	g := &r.opts.Env.GitOps
	v, repo := r.engine().DeclaredChart(r.seed.Snapshot.Files)
	if v != "" && v != g.Version {
		r.opts.Logf("Git declares %s %s (the spec says %s): installing %s", g.Chart.Name, v, g.Version, v)
		g.Version = v
	}
	if repo != "" {
		g.Chart.Repository = repo
	}
}

func (r *Run) applyRestoreSeed(ctx context.Context) error {
	if r.legacyLayout {
		// Its files are where an older groundwork put them: restoring the
		// current layout beside them would declare everything twice.
		r.opts.Logf("the repository has the layout of an older groundwork: no files restored (up moves them into %s/groundwork/)", r.env().GitOps.Repository.Path)
		return actions.NoChange
	}
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	git, err := r.Git()
	if err != nil {
		return err
	}
	g := r.env().GitOps
	ch := gitrepo.Change{Root: g.Repository.Path, AddOnly: true, Message: "groundwork: restore missing files of " + r.env().Name}
	for _, f := range files {
		ch.Files = append(ch.Files, gitrepo.File{Path: f.Path, Data: f.Data, SeedOnly: true})
	}
	res, err := git.Apply(ctx, ch)
	if err != nil {
		return err
	}
	if !res.Changed {
		return actions.NoChange
	}
	r.Revision = res.Revision
	if r.seed.Snapshot, err = git.Read(ctx, g.Repository.Path); err != nil {
		return err
	}
	r.opts.Logf("restored missing files at %s", res.Revision)
	return nil
}

// applyGitSync applies the sync objects as the repository declares them
// now (users may have changed them since up).
func (r *Run) applyGitSync(ctx context.Context) error {
	return r.attach(ctx, r.seed.Snapshot.Files)
}

// Declared lists what the repository declares for the engine under the
// environment's path.
func (r *Run) Declared() []string { return r.engine().Declared(r.seed.Snapshot.Files) }

// DeclaredKind is the kind of what Declared lists.
func (r *Run) DeclaredKind() string { return r.engine().Kind() }

func (r *Run) applyGitWait(ctx context.Context) error {
	return r.engine().Wait(ctx, r.Revision, r.Declared())
}
