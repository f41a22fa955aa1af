package custody

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/go-git/go-git/v5/plumbing/object"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/secret"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// States of a check.
const (
	// StateOK: Git and the key store agree.
	StateOK = "ok"
	// StateMismatch: something in Git cannot be decrypted with the key
	// store's keys (Check returned a *MismatchError).
	StateMismatch = "mismatch"
	// StateSkipped: nothing to compare (External Secrets).
	StateSkipped = "skipped"
	// StateUnchecked: the keys or the repository could not be read.
	StateUnchecked = "unchecked"
)

// Keys are the key store's keys of an environment.
type Keys struct {
	// Age is the SOPS age identity (SOPS environments).
	Age *age.X25519Identity
	// Sealing are the sealing key pairs, oldest first (Sealed Secrets).
	Sealing sealing.Keys
}

// Report says what the check compared and found.
type Report struct {
	Environment string `json:"environment"`
	Provider    string `json:"provider"`
	// State is one of the State* constants; Summary says it in a line.
	State   string `json:"state"`
	Summary string `json:"summary"`
	// KeyStore is where the keys were read from.
	KeyStore string `json:"key_store,omitempty"`
	// StoreRecipient is the public key of the key store's age key (SOPS).
	StoreRecipient string `json:"store_recipient,omitempty"`
	// SOPSConfig is the repository's .sops.yaml and GitRecipients the age
	// recipients it lists (SOPS).
	SOPSConfig    string   `json:"sops_config,omitempty"`
	GitRecipients []string `json:"git_recipients,omitempty"`
	// StoreKeys are the IDs of the key store's sealing keys (Sealed
	// Secrets), oldest first.
	StoreKeys []string `json:"store_keys,omitempty"`
	// Certificates are the sealing certificates found in Git.
	Certificates []string `json:"certificates,omitempty"`
	// Decrypted are the SOPS files and SealedSecret files that decrypted
	// with the key store's keys.
	Decrypted []string `json:"decrypted,omitempty"`
	// Notes are findings that are not mismatches.
	Notes []string `json:"notes,omitempty"`
	// Error is the mismatch, or why the check could not run.
	Error  string `json:"error,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// Problem is one thing in Git the key store cannot open.
type Problem struct {
	// File is the file in the repository.
	File string
	// Recipient is what it is encrypted for: age recipients, or the
	// sealing certificate's ID; empty when Git does not say.
	Recipient string
	// What is what is wrong.
	What string
}

// MismatchError says Git holds what the key store's keys cannot decrypt.
type MismatchError struct {
	Environment string
	// KeyStore is the key store, StoreKey its key (an age public key, or
	// the IDs of the sealing keys).
	KeyStore, StoreKey string
	Problems           []Problem
	// Fix is what to do about it.
	Fix string
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "key custody of environment %s: the repository holds what the key store (%s, key %s) cannot decrypt:", e.Environment, e.KeyStore, e.StoreKey)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.File, p.What)
	}
	if e.Fix != "" {
		b.WriteString("\n" + e.Fix)
	}
	return b.String()
}

// Load reads the environment's keys from its key store, creating nothing:
// a missing key is a *keys.NotFoundError. External Secrets has none.
func Load(ctx context.Context, env *spec.Environment, environ []string) (Keys, error) {
	s := env.Secrets
	switch s.Provider {
	case spec.SecretsExternalSecrets:
		return Keys{}, nil
	case spec.SecretsSealedSecrets:
		if s.KeyStore.Type != spec.KeyStoreFile {
			return Keys{}, fmt.Errorf("the sealing keys are kept in a file key store only; key_store %q is not one", s.KeyStore.Type)
		}
		k, err := sealing.LoadKeys(s.KeyStore.Path)
		return Keys{Sealing: k}, err
	}
	id, err := keys.LoadIdentity(ctx, s.KeyStore, environ)
	return Keys{Age: id}, err
}

// CheckEnvironment loads the keys from the key store and reads the
// environment's folder at the repository's branch head (with the
// credentials of environ), then checks them (Check). The report is never
// nil: when the keys or the repository cannot be read its State is
// StateUnchecked and the error says why.
func CheckEnvironment(ctx context.Context, env *spec.Environment, environ []string) (*Report, error) {
	start := time.Now()
	rep := newReport(env)
	fail := func(err error) (*Report, error) {
		rep.State, rep.Error, rep.Summary = StateUnchecked, err.Error(), "not checked: "+err.Error()
		rep.TookMS = time.Since(start).Milliseconds()
		return rep, err
	}
	if env.Secrets.Provider == spec.SecretsExternalSecrets {
		return Check(ctx, env, nil, Keys{})
	}
	k, err := Load(ctx, env, environ)
	if err != nil {
		return fail(err)
	}
	g := env.GitOps
	creds, err := gitrepo.ResolveCredentials(g.Repository.Auth, environ)
	if err != nil {
		return fail(err)
	}
	auth, err := creds.AuthMethod()
	if err != nil {
		return fail(err)
	}
	git := &gitrepo.Client{URL: g.Repository.URL, Branch: g.Repository.Branch, Auth: auth,
		Author: object.Signature{Name: g.Commit.AuthorName, Email: g.Commit.AuthorEmail}}
	snap, err := git.Read(ctx, g.Repository.Path)
	if err != nil {
		return fail(err)
	}
	rep, err = Check(ctx, env, snap.Files, k)
	rep.TookMS = time.Since(start).Milliseconds()
	return rep, err
}

func newReport(env *spec.Environment) *Report {
	return &Report{Environment: env.Name, Provider: env.Secrets.Provider, KeyStore: keyStoreText(env.Secrets.KeyStore)}
}

// Check compares files (the repository's files under the environment's
// folder, by path from the repository root) with the key store's keys k.
// A mismatch is a *MismatchError; the report is never nil.
func Check(ctx context.Context, env *spec.Environment, files map[string][]byte, k Keys) (*Report, error) {
	start := time.Now()
	rep := newReport(env)
	var err error
	switch env.Secrets.Provider {
	case spec.SecretsExternalSecrets:
		rep.KeyStore = ""
		rep.State = StateSkipped
		rep.Summary = "nothing to check: with External Secrets the secret values stay in the external store, and groundwork keeps no key that Git must match"
		rep.TookMS = time.Since(start).Milliseconds()
		return rep, nil
	case spec.SecretsSealedSecrets:
		err = checkSealed(ctx, env, files, k.Sealing, rep)
	default:
		err = checkSOPS(ctx, env, files, k.Age, rep)
	}
	rep.TookMS = time.Since(start).Milliseconds()
	var me *MismatchError
	switch {
	case errors.As(err, &me):
		rep.State, rep.Error = StateMismatch, err.Error()
		rep.Summary = fmt.Sprintf("mismatch: %d file(s) in Git the key store's key cannot decrypt (%s)", len(me.Problems), me.Problems[0].File)
	case err != nil:
		rep.State, rep.Error, rep.Summary = StateUnchecked, err.Error(), "not checked: "+err.Error()
	}
	return rep, err
}

// sortedPaths are the paths of files, in order.
func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func isYAML(p string) bool { return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") }

// checkSOPS: the store's recipient is among .sops.yaml's, and every SOPS
// file decrypts with the store's key.
func checkSOPS(_ context.Context, env *spec.Environment, files map[string][]byte, id *age.X25519Identity, rep *Report) error {
	if id == nil {
		return errors.New("no age key to check the repository with")
	}
	mine := id.Recipient().String()
	rep.StoreRecipient = mine
	mismatch := &MismatchError{Environment: env.Name, KeyStore: rep.KeyStore, StoreKey: mine}
	// During a rotation that did not finish (keys rotate killed between
	// its phases) the new key waits beside the file store, and the
	// repository may be encrypted for it alone: the cluster holds it too
	// (up and rebuild put both keys in its Secret), so it counts.
	accepted, ids := []string{mine}, []string{id.String()}
	if next := rotationKey(env); next != nil {
		accepted, ids = append(accepted, next.Recipient().String()), append(ids, next.String())
		rep.Notes = append(rep.Notes, "a keys rotate has not finished: its new key "+next.Recipient().String()+" counts as the key store's until keys rotate finishes")
	}
	ours := func(recipients []string) bool {
		return slices.ContainsFunc(recipients, func(r string) bool { return slices.Contains(accepted, r) })
	}

	cfg := path.Join(env.GitOps.Repository.Path, ".sops.yaml")
	if b, ok := files[cfg]; !ok {
		rep.Notes = append(rep.Notes, cfg+" is not in Git yet (up writes it, rebuild restores it, for the key store's key)")
	} else {
		rep.SOPSConfig = cfg
		recipients, err := secret.Recipients(b)
		if err != nil {
			return fmt.Errorf("%s: %w", cfg, err)
		}
		rep.GitRecipients = recipients
		if !ours(recipients) {
			mismatch.Problems = append(mismatch.Problems, Problem{File: cfg, Recipient: strings.Join(recipients, ","),
				What: fmt.Sprintf("encrypts for age recipient %s, not for the key store's key %s: what groundwork secret set encrypts now, the cluster could not decrypt after a rebuild", strings.Join(recipients, ", "), mine)})
		} else if len(recipients) > 1 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s also encrypts for %s (a keys rotate that did not finish? run it again to finish)", cfg, strings.Join(without(recipients, mine), ", ")))
		}
	}

	for _, p := range sortedPaths(files) {
		b := files[p]
		if !isYAML(p) || !sopsenc.IsEncrypted(b) {
			continue
		}
		plain, err := sopsenc.DecryptYAML(b, ids...)
		clear(plain)
		if err == nil {
			rep.Decrypted = append(rep.Decrypted, p)
			continue
		}
		recipients, _ := sopsenc.Recipients(b)
		what := fmt.Sprintf("does not decrypt with the key store's key: %v", err)
		if !ours(recipients) {
			what = fmt.Sprintf("is encrypted for age recipient %s only, not for the key store's key %s", strings.Join(recipients, ", "), mine)
		}
		mismatch.Problems = append(mismatch.Problems, Problem{File: p, Recipient: strings.Join(recipients, ","), What: what})
	}
	if len(rep.Decrypted) == 0 && len(mismatch.Problems) == 0 {
		rep.Notes = append(rep.Notes, "no SOPS file in Git yet: nothing to decrypt")
	}
	if len(mismatch.Problems) == 0 {
		rep.State = StateOK
		rep.Summary = fmt.Sprintf("ok: the key store's age key %s is .sops.yaml's recipient and decrypts %d SOPS file(s)", mine, len(rep.Decrypted))
		if len(rep.Decrypted) == 0 {
			rep.Summary = fmt.Sprintf("ok: the key store's age key %s is .sops.yaml's recipient (no SOPS file in Git yet)", mine)
		}
		return nil
	}
	mismatch.Fix = sopsFix(env, files, mismatch)
	return mismatch
}

// rotationKey is the new key of a keys rotate that did not finish, nil when
// none waits beside the (file) key store.
func rotationKey(env *spec.Environment) *age.X25519Identity {
	ks := env.Secrets.KeyStore
	if ks.Type != spec.KeyStoreFile {
		return nil
	}
	next, err := keys.FileStore{Path: ks.Path + facts.NextKeySuffix}.Load()
	if err != nil {
		return nil
	}
	return next
}

// sopsFix says how to make Git and the key store agree again.
func sopsFix(env *spec.Environment, files map[string][]byte, e *MismatchError) string {
	var theirs []string
	for _, p := range e.Problems {
		for _, r := range strings.Split(p.Recipient, ",") {
			if r != "" && r != e.StoreKey && !slices.Contains(theirs, r) {
				theirs = append(theirs, r)
			}
		}
	}
	if ks := env.Secrets.KeyStore; ks.Type == spec.KeyStoreFile {
		// keys rotate keeps the new key beside the current one until it
		// has finished.
		if next, err := (keys.FileStore{Path: ks.Path + ".next"}).Load(); err == nil && slices.Contains(theirs, next.Recipient().String()) {
			return fmt.Sprintf("A keys rotate has not finished: the repository is encrypted for the new key, which is still in %s. Run groundwork keys rotate FILE to finish it (it moves the new key into %s).", ks.Path+".next", ks.Path)
		}
	}
	want := "the key the repository is encrypted for"
	if len(theirs) > 0 {
		want = "the age key whose public key is " + strings.Join(theirs, " or ")
	}
	return fmt.Sprintf("To fix: put %s back into %s (from your backup of the key store); the key now there is another one. If that key is lost, so is what was encrypted for it: set those Secrets again with groundwork secret set (after groundwork up has pointed .sops.yaml at the key store's key). Once the store and Git agree, groundwork keys rotate moves them to a new key together.", want, e.KeyStore)
}

// checkSealed: every SealedSecret unseals with a stored key, and a sealing
// certificate kept in Git is a stored key's.
func checkSealed(_ context.Context, env *spec.Environment, files map[string][]byte, ks sealing.Keys, rep *Report) error {
	if len(ks) == 0 {
		return errors.New("no sealing key to check the repository with")
	}
	privs := map[string]*rsa.PrivateKey{}
	var ids []string
	for _, kp := range ks {
		pk, err := kp.PrivateKey()
		if err != nil {
			return fmt.Errorf("sealing key %s: %w", kp.ID(), err)
		}
		privs[kp.ID()] = pk
		ids = append(ids, kp.ID())
	}
	rep.StoreKeys = ids
	latest := ks.Latest()
	mismatch := &MismatchError{Environment: env.Name, KeyStore: rep.KeyStore, StoreKey: strings.Join(ids, ", ")}

	for _, p := range sortedPaths(files) {
		b := files[p]
		switch {
		case strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".crt"):
			for _, kp := range certificates(b) {
				rep.Certificates = append(rep.Certificates, p)
				switch {
				case !hasCert(ks, kp):
					mismatch.Problems = append(mismatch.Problems, Problem{File: p, Recipient: kp.ID(),
						What: fmt.Sprintf("is the sealing certificate %s, of no key in the key store: what kubeseal seals with it, the cluster could not unseal after a rebuild", kp.Describe())})
				case !bytes.Equal(certDER(kp.CertPEM), certDER(latest.CertPEM)):
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s is the certificate of the older key %s; groundwork secret set seals for the latest, %s", p, kp.ID(), latest.ID()))
				}
			}
		case isYAML(p) && bytes.Contains(b, []byte("SealedSecret")):
			objs, err := kube.Decode(b)
			if err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: not read as Kubernetes objects: %v", p, err))
				continue
			}
			for _, u := range objs {
				if u.GetKind() != "SealedSecret" || !strings.HasPrefix(u.GetAPIVersion(), ssv1alpha1.SchemeGroupVersion.Group+"/") {
					continue
				}
				var ss ssv1alpha1.SealedSecret
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ss); err != nil {
					mismatch.Problems = append(mismatch.Problems, Problem{File: p, What: fmt.Sprintf("SealedSecret %s/%s does not read: %v", u.GetNamespace(), u.GetName(), err)})
					continue
				}
				s, err := ss.Unseal(scheme.Codecs, privs)
				if s != nil {
					for k := range s.Data {
						clear(s.Data[k])
					}
				}
				if err != nil {
					mismatch.Problems = append(mismatch.Problems, Problem{File: p, Recipient: "SealedSecret " + u.GetNamespace() + "/" + u.GetName(),
						What: fmt.Sprintf("SealedSecret %s/%s does not unseal with any of the key store's sealing keys (%s): it was sealed for another key", u.GetNamespace(), u.GetName(), strings.Join(ids, ", "))})
					continue
				}
				if !slices.Contains(rep.Decrypted, p) {
					rep.Decrypted = append(rep.Decrypted, p)
				}
			}
		}
	}
	if len(rep.Decrypted) == 0 && len(mismatch.Problems) == 0 {
		rep.Notes = append(rep.Notes, "no SealedSecret in Git yet: nothing to unseal")
	}
	if len(mismatch.Problems) == 0 {
		rep.State = StateOK
		rep.Summary = fmt.Sprintf("ok: the key store's %d sealing key(s) unseal %d SealedSecret file(s)", len(ks), len(rep.Decrypted))
		if len(rep.Decrypted) == 0 {
			rep.Summary = fmt.Sprintf("ok: the key store holds %d sealing key(s) (no SealedSecret in Git yet)", len(ks))
		}
		return nil
	}
	mismatch.Fix = fmt.Sprintf("To fix: put back into %s the sealing key it was sealed for (from your backup of the key store: it must keep every key pair the controller ever sealed with). While the cluster that sealed it still runs, groundwork up keeps in the store any key the controller has that the store lacks. If the key is lost, so is what was sealed for it: seal those Secrets again with groundwork secret set (and replace a certificate kept in Git with the latest key's, %s).", rep.KeyStore, latest.ID())
	return mismatch
}

// certificates are the certificates in a PEM file.
func certificates(b []byte) []*sealing.KeyPair {
	var out []*sealing.KeyPair
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return out
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, &sealing.KeyPair{CertPEM: pem.EncodeToMemory(blk)})
		}
	}
}

func certDER(certPEM []byte) []byte {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return nil
	}
	return blk.Bytes
}

// hasCert tells whether a stored key pair has cert's certificate.
func hasCert(ks sealing.Keys, cert *sealing.KeyPair) bool {
	for _, kp := range ks {
		if bytes.Equal(certDER(kp.CertPEM), certDER(cert.CertPEM)) {
			return true
		}
	}
	return false
}

func without(list []string, x string) []string {
	var out []string
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func keyStoreText(ks spec.KeyStore) string {
	switch ks.Type {
	case spec.KeyStoreEnv:
		return "environment variable " + ks.Variable
	case spec.KeyStoreAWSSecretsManager:
		return "AWS Secrets Manager secret " + ks.SecretName + " in " + ks.Region
	}
	return ks.Path
}

// Checker checks an environment's repository files against its key store
// with the credentials and variables of Environ: the drill's keys layer.
type Checker struct{ Environ []string }

// Check loads the keys (creating nothing) and checks files with them; a
// mismatch is a *MismatchError.
func (c Checker) Check(ctx context.Context, env *spec.Environment, files map[string][]byte) error {
	k, err := Load(ctx, env, c.Environ)
	if err != nil {
		return err
	}
	_, err = Check(ctx, env, files, k)
	return err
}
