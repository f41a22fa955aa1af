package secret

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Dir is the folder, under the environment's path, that holds the Secrets.
const Dir = "secrets"

// Ref names a Secret.
type Ref struct{ Namespace, Name string }

// ParseRef reads NAMESPACE/NAME.
func ParseRef(s string) (Ref, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" {
		return Ref{}, fmt.Errorf("%q is not NAMESPACE/NAME", s)
	}
	for what, v := range map[string]string{"namespace": ns, "name": name} {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return Ref{}, fmt.Errorf("%s %q: %s", what, v, strings.Join(errs, "; "))
		}
	}
	return Ref{Namespace: ns, Name: name}, nil
}

// ValidKey checks a Secret data key.
func ValidKey(k string) error {
	if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
		return fmt.Errorf("key %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

// Path is where the Secret's manifest lives in the repository.
func Path(env *spec.Environment, r Ref) string {
	return path.Join(env.GitOps.Repository.Path, Dir, r.Namespace, r.Name+".yaml")
}

// Result says what Set committed.
type Result struct {
	gitrepo.Result
	// Provider is how the Secret was encrypted: spec.SecretsSOPS or
	// spec.SecretsSealedSecrets.
	Provider string
	// Recipients are the age recipients it was encrypted for (SOPS).
	Recipients []string
	// SealingKey is the sealing key pair it was sealed for (Sealed
	// Secrets): the latest in the key store.
	SealingKey *sealing.KeyPair
}

// ExternalSecretsError says secret set has nothing to do for an
// environment that reads its secrets from an external store.
type ExternalSecretsError struct {
	Environment string
	Store       *spec.ExternalStore
}

func (e *ExternalSecretsError) Error() string {
	where, how := "the external store", ""
	if x := e.Store; x != nil && x.Type == spec.KeyStoreAWSSecretsManager {
		where = "AWS Secrets Manager (" + x.Region + ")"
		how = fmt.Sprintf(" (aws secretsmanager create-secret --region %s --name NAME --secret-string ...)", x.Region)
	}
	return fmt.Sprintf("environment %s uses External Secrets: its secret values live in %s, never in the repository, so secret set has nothing to commit. Put the value in the store%s, and commit an ExternalSecret that reads it through ClusterSecretStore %q", e.Environment, where, how, ClusterSecretStore)
}

// ClusterSecretStore is the store External Secrets reads through (up
// creates it).
const ClusterSecretStore = "aws-secrets-manager"

// NoSealingKeyError says the environment's key store has no sealing key
// yet: up creates it.
type NoSealingKeyError struct{ Environment, Where string }

func (e *NoSealingKeyError) Error() string {
	return fmt.Sprintf("environment %s has no sealing key yet: no key at %s. secret set seals for the certificate in the key store; groundwork up creates the key pair (and installs the Sealed Secrets controller that holds it): run it first, or point secrets.key_store at your key store", e.Environment, e.Where)
}

// Set encrypts the Secret and commits it (with its namespace, if that is
// not there yet), as the environment's secrets provider wants it:
//
//   - SOPS: a Secret encrypted for the age recipients of the repository's
//     .sops.yaml (the repository must have been seeded: up writes it);
//   - Sealed Secrets: a SealedSecret sealed, with strict scope, for the
//     latest key pair in the key store (no cluster needed: up created the
//     store);
//   - External Secrets: refused, an *ExternalSecretsError.
func Set(ctx context.Context, env *spec.Environment, git *gitrepo.Client, r Ref, data map[string][]byte) (Result, error) {
	switch env.Secrets.Provider {
	case spec.SecretsExternalSecrets:
		return Result{}, &ExternalSecretsError{Environment: env.Name, Store: env.Secrets.ExternalStore}
	case spec.SecretsSealedSecrets:
		return setSealed(ctx, env, git, r, data)
	}
	repoPath := env.GitOps.Repository.Path
	snap, err := git.Read(ctx, repoPath)
	if err != nil {
		return Result{}, err
	}
	recipients, err := Recipients(snap.Files[path.Join(repoPath, ".sops.yaml")])
	if err != nil {
		return Result{}, fmt.Errorf("%s/.sops.yaml: %w (run groundwork up first: it seeds the repository)", repoPath, err)
	}
	s := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	plain, err := marshal(&s)
	if err != nil {
		return Result{}, err
	}
	enc, err := sopsenc.EncryptYAML(plain, recipients...)
	if err != nil {
		return Result{}, err
	}
	res, err := commit(ctx, env, git, r, data, enc, "")
	return Result{Result: res, Provider: spec.SecretsSOPS, Recipients: recipients}, err
}

// commit writes the encrypted Secret and its namespace and commits them.
func commit(ctx context.Context, env *spec.Environment, git *gitrepo.Client, r Ref, data map[string][]byte, enc []byte, how string) (gitrepo.Result, error) {
	repoPath := env.GitOps.Repository.Path
	ns := corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: r.Namespace}}
	nsYAML, err := marshal(&ns)
	if err != nil {
		return gitrepo.Result{}, err
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	g := env.GitOps
	c := *git
	c.Author = object.Signature{Name: g.Commit.AuthorName, Email: g.Commit.AuthorEmail}
	return c.Apply(ctx, gitrepo.Change{
		Root: repoPath, AddOnly: true,
		Message: fmt.Sprintf("groundwork: set Secret %s/%s (keys: %s)%s", r.Namespace, r.Name, strings.Join(keys, ", "), how),
		Files: []gitrepo.File{
			{Path: path.Join(repoPath, Dir, r.Namespace, "namespace.yaml"), Data: nsYAML, SeedOnly: true},
			{Path: Path(env, r), Data: enc},
		},
	})
}

// marshal is obj as YAML without the null creationTimestamp fields the
// Kubernetes types marshal to (at the paths given: metadata, and a
// template's metadata).
func marshal(obj any, paths ...[]string) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	for _, p := range append([][]string{{"metadata"}}, paths...) {
		unstructured.RemoveNestedField(m, append(p, "creationTimestamp")...)
	}
	return yaml.Marshal(m)
}

// Recipients reads the age recipients of a .sops.yaml.
func Recipients(sopsYAML []byte) ([]string, error) {
	if len(sopsYAML) == 0 {
		return nil, fmt.Errorf("missing")
	}
	var cfg struct {
		CreationRules []struct {
			Age string `json:"age"`
		} `json:"creation_rules"`
	}
	if err := yaml.Unmarshal(sopsYAML, &cfg); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range cfg.CreationRules {
		for _, a := range strings.Split(r.Age, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no age recipient in its creation_rules")
	}
	return out, nil
}
