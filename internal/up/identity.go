package up

import (
	"context"
	"fmt"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

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
	changed, err := r.kube.Apply(ctx, r.ageSecret())
	if err != nil {
		return err
	}
	r.output(plan.StepSecrets, "recipient", r.identity.Recipient().String())
	if !changed {
		return actions.NoChange
	}
	return nil
}

// ageSecret is the Secret the reconciler decrypts SOPS files with. During a
// rotation (keys rotate killed or failed before it finished, the new key
// still beside the file store) it holds the new key too: the repository
// may already be encrypted for it alone.
func (r *Run) ageSecret() *unstructured.Unstructured {
	data := map[string][]byte{facts.AgeSecretKey: []byte(r.identity.String() + "\n")}
	if ks := r.env().Secrets.KeyStore; ks.Type == spec.KeyStoreFile {
		if next, err := (keys.FileStore{Path: ks.Path + facts.NextKeySuffix}).Load(); err == nil {
			data[facts.AgeSecretNextKey] = []byte(next.String() + "\n")
			r.opts.Logf("a key rotation is under way (%s): the cluster keeps its new key too; run keys rotate to finish it", ks.Path+facts.NextKeySuffix)
		}
	}
	return gitops.Secret(r.env().GitOps.Namespace, facts.AgeSecret, data)
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
