package rotate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/faults"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// NextKeySuffix names the file that holds the new key during a rotation.
const NextKeySuffix = facts.NextKeySuffix

// Options are what a rotation needs.
type Options struct {
	Env      *spec.Environment
	StateDir string
	Environ  []string
	Now      func() time.Time
	Logf     func(format string, args ...any)
	// Clientset is the cluster's client for a Sealed Secrets rotation;
	// nil: connect with the environment's kubeconfig.
	Clientset kubernetes.Interface
}

// Result says what the rotation did.
type Result struct {
	// SOPS: the age key.
	OldRecipient, NewRecipient string
	// Files are the SOPS files re-encrypted.
	Files []string
	// Revisions are the two commits: for both keys, then the new alone.
	Revisions []string
	// Retired is where the old key was kept.
	Retired string

	// Sealed is what a Sealed Secrets rotation did (nil with SOPS).
	Sealed *SealedResult
}

// defaults fills in the clock and the log a caller left out.
func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Run rotates the environment's key: the SOPS age key, re-encrypting the
// repository's SOPS files, or the Sealed Secrets sealing key
// (RunSealedSecrets). External Secrets has no key of groundwork's: an
// *ExternalSecretsError.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	env := o.Env
	switch env.Secrets.Provider {
	case spec.SecretsSealedSecrets:
		s, err := RunSealedSecrets(ctx, o)
		if s == nil {
			return nil, err
		}
		return &Result{Sealed: s}, err
	case spec.SecretsExternalSecrets:
		return nil, &ExternalSecretsError{Environment: env.Name}
	}
	ks := env.Secrets.KeyStore
	if ks.Type != spec.KeyStoreFile {
		return nil, fmt.Errorf("keys rotate needs a key store it can write: key_store %q is not; rotate with a file store, then load the new key into %s", ks.Type, ks.Type)
	}
	old, err := keys.FileStore{Path: ks.Path}.Load()
	if err != nil {
		return nil, err
	}
	next, created, err := keys.LoadOrCreate(keys.FileStore{Path: ks.Path + NextKeySuffix})
	if err != nil {
		return nil, err
	}
	if !created {
		o.Logf("resuming the rotation with the new key in %s", ks.Path+NextKeySuffix)
	}
	res := &Result{OldRecipient: old.Recipient().String(), NewRecipient: next.Recipient().String()}

	kubeconfig, kctx := facts.Kubeconfig(env, o.StateDir)
	kc, err := kube.Connect(kubeconfig, kctx)
	if err != nil {
		return nil, err
	}
	if _, err := kc.ServerVersion(ctx); err != nil {
		return nil, err
	}
	creds, err := gitrepo.ResolveCredentials(env.GitOps.Repository.Auth, o.Environ)
	if err != nil {
		return nil, err
	}
	auth, err := creds.AuthMethod()
	if err != nil {
		return nil, err
	}
	g := env.GitOps
	git := &gitrepo.Client{URL: g.Repository.URL, Branch: g.Repository.Branch, Auth: auth,
		Author: object.Signature{Name: g.Commit.AuthorName, Email: g.Commit.AuthorEmail}}

	// 1. The cluster can decrypt with either key.
	if err := applyAgeSecret(ctx, kc, g.Namespace, next, old); err != nil {
		return nil, err
	}
	faults.Point("rotate:both-keys")
	// 2. Everything for both keys, then 3. for the new one alone; each
	// applied by the cluster before going on.
	for _, phase := range []struct {
		recipients []string
		message    string
	}{
		{[]string{res.NewRecipient, res.OldRecipient}, "groundwork: rotate the age key of %s (1/2: encrypt for the old and the new key)"},
		{[]string{res.NewRecipient}, "groundwork: rotate the age key of %s (2/2: encrypt for the new key only)"},
	} {
		rev, files, err := reencrypt(ctx, git, env, []string{next.String(), old.String()}, phase.recipients, fmt.Sprintf(phase.message, env.Name))
		if err != nil {
			return res, err
		}
		res.Files, res.Revisions = files, append(res.Revisions, rev.Revision)
		o.Logf("committed %s (%d SOPS files); waiting until the cluster applied it", rev.Revision, len(files))
		if err := waitApplied(ctx, kc, git, env, rev.Revision); err != nil {
			return res, fmt.Errorf("the cluster has not applied %s, so the old key stays in place (run keys rotate again to resume): %w", rev.Revision, err)
		}
		faults.Point("rotate:phase")
	}
	// 4. Only the new key, in the cluster and in the store.
	if err := applyAgeSecret(ctx, kc, g.Namespace, next); err != nil {
		return res, err
	}
	faults.Point("rotate:new-key-only")
	res.Retired = fmt.Sprintf("%s.retired-%s", ks.Path, o.Now().UTC().Format("20060102T150405Z"))
	// The key file's path holds a key at every moment: the old one is
	// linked to its retired name, then the new one renamed over it. (A run
	// killed between two renames left no key at the path, and the next up
	// made a key the repository is not encrypted for.)
	if err := os.Link(ks.Path, res.Retired); err != nil {
		return res, fmt.Errorf("keep the old key as %s: %w", res.Retired, err)
	}
	faults.Point("rotate:retired")
	if err := os.Rename(ks.Path+NextKeySuffix, ks.Path); err != nil {
		return res, fmt.Errorf("the new key is in %s, the old one in %s and %s; move the new one to %s: %w", ks.Path+NextKeySuffix, ks.Path, res.Retired, ks.Path, err)
	}
	return res, nil
}

// applyAgeSecret puts the identities into the decryption Secret: Flux tries
// every *.agekey entry.
func applyAgeSecret(ctx context.Context, kc *kube.Client, ns string, ids ...*age.X25519Identity) error {
	data := map[string][]byte{}
	for i, id := range ids {
		name := facts.AgeSecretKey
		if i > 0 {
			name = fmt.Sprintf("previous-%d.agekey", i)
		}
		data[name] = []byte(id.String() + "\n")
	}
	s := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: facts.AgeSecret, Labels: map[string]string{"app.kubernetes.io/managed-by": "groundwork"}},
		Type:       corev1.SecretTypeOpaque, Data: data}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	// Server-side apply drops the entries groundwork set before and no
	// longer sets: the previous key goes with the last apply.
	_, err = kc.Apply(ctx, u)
	return err
}

// reencrypt re-encrypts every SOPS file under the environment's folder,
// and its .sops.yaml, for recipients, and commits.
func reencrypt(ctx context.Context, git *gitrepo.Client, env *spec.Environment, identities, recipients []string, message string) (gitrepo.Result, []string, error) {
	root := env.GitOps.Repository.Path
	snap, err := git.Read(ctx, root)
	if err != nil {
		return gitrepo.Result{}, nil, err
	}
	var files []gitrepo.File
	var names []string
	for p, b := range snap.Files {
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") || !sopsenc.IsEncrypted(b) {
			continue
		}
		plain, err := sopsenc.DecryptYAML(b, identities...)
		if err != nil {
			return gitrepo.Result{}, nil, fmt.Errorf("%s: %w", p, err)
		}
		enc, err := sopsenc.EncryptYAML(plain, recipients...)
		clear(plain)
		if err != nil {
			return gitrepo.Result{}, nil, fmt.Errorf("%s: %w", p, err)
		}
		// The leading comments go with the file (groundwork's managed
		// header on the Secrets it keeps there).
		files = append(files, gitrepo.File{Path: p, Data: append(leadingComments(b), enc...)})
		names = append(names, p)
	}
	sopsPath := path.Join(root, ".sops.yaml")
	cur, ok := snap.Files[sopsPath]
	if !ok {
		return gitrepo.Result{}, nil, errors.New(sopsPath + " is missing: run groundwork up first")
	}
	updated, err := setRecipients(cur, recipients)
	if err != nil {
		return gitrepo.Result{}, nil, err
	}
	files = append(files, gitrepo.File{Path: sopsPath, Data: updated})
	sort.Strings(names)
	res, err := git.Apply(ctx, gitrepo.Change{Root: root, AddOnly: true, Files: files, Message: message})
	return res, names, err
}

// leadingComments are the comment lines a file starts with.
func leadingComments(b []byte) []byte {
	n := 0
	for rest := b; len(rest) > 0 && rest[0] == '#'; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		n += i + 1
		rest = rest[i+1:]
	}
	return append([]byte{}, b[:n]...)
}

// setRecipients rewrites the age: lines of a .sops.yaml.
func setRecipients(sopsYAML []byte, recipients []string) ([]byte, error) {
	lines := strings.Split(string(sopsYAML), "\n")
	n := 0
	for i, l := range lines {
		if k, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == "age" {
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			lines[i] = indent + "age: " + strings.Join(recipients, ",")
			n++
		}
	}
	if n == 0 {
		return nil, errors.New(".sops.yaml has no age: line to update")
	}
	return []byte(strings.Join(lines, "\n")), nil
}

func waitApplied(ctx context.Context, kc *kube.Client, git *gitrepo.Client, env *spec.Environment, revision string) error {
	snap, err := git.Read(ctx, env.GitOps.Repository.Path)
	if err != nil {
		return err
	}
	e := engines.New(gitops.Deps{Env: env, Kube: kc, IsAncestor: git.IsAncestor})
	return e.Wait(ctx, revision, e.Declared(snap.Files))
}
