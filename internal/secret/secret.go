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
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
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

// Set encrypts the Secret and commits it (with its namespace, if that is
// not there yet). The repository must have been seeded: the recipients come
// from its .sops.yaml.
func Set(ctx context.Context, env *spec.Environment, git *gitrepo.Client, r Ref, data map[string][]byte) (gitrepo.Result, error) {
	repoPath := env.GitOps.Repository.Path
	snap, err := git.Read(ctx, repoPath)
	if err != nil {
		return gitrepo.Result{}, err
	}
	recipients, err := Recipients(snap.Files[path.Join(repoPath, ".sops.yaml")])
	if err != nil {
		return gitrepo.Result{}, fmt.Errorf("%s/.sops.yaml: %w (run groundwork up first: it seeds the repository)", repoPath, err)
	}
	s := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	plain, err := yaml.Marshal(s)
	if err != nil {
		return gitrepo.Result{}, err
	}
	plain = []byte(strings.Replace(string(plain), "  creationTimestamp: null\n", "", 1))
	enc, err := sopsenc.EncryptYAML(plain, recipients...)
	if err != nil {
		return gitrepo.Result{}, err
	}
	ns := corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: r.Namespace}}
	nsYAML, _ := yaml.Marshal(ns)
	nsYAML = []byte(strings.Replace(string(nsYAML), "  creationTimestamp: null\n", "", 1))
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
		Message: fmt.Sprintf("groundwork: set Secret %s/%s (keys: %s)", r.Namespace, r.Name, strings.Join(keys, ", ")),
		Files: []gitrepo.File{
			{Path: path.Join(repoPath, Dir, r.Namespace, "namespace.yaml"), Data: nsYAML, SeedOnly: true},
			{Path: Path(env, r), Data: enc},
		},
	})
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
