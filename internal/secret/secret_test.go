package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
)

// unseal opens one value as the controller does, written out here rather
// than taken from the library: a 2-byte big-endian length, the session key
// sealed with RSA-OAEP (SHA-256) under the label, then the value sealed
// with AES-256-GCM under the session key and a zero nonce.
func unseal(key *rsa.PrivateKey, value, label string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, err
	}
	if len(ct) < 2 {
		return nil, errors.New("too short")
	}
	n := int(binary.BigEndian.Uint16(ct))
	if len(ct) < 2+n {
		return nil, errors.New("too short")
	}
	session, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, key, ct[2:2+n], []byte(label))
	if err != nil {
		return nil, err
	}
	if len(session) != 32 {
		return nil, errors.New("the session key is not AES-256")
	}
	block, err := aes.NewCipher(session)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, make([]byte, gcm.NonceSize()), ct[2+n:], nil)
}

type sealedDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   map[string]any
	Spec       struct {
		EncryptedData map[string]string `json:"encryptedData"`
		Template      struct {
			Metadata map[string]any
			Type     string
		}
	}
}

// A sealed Secret opens with the private key and only for its own
// namespace and name (strict scope), has kubeseal's structure, and holds
// no plaintext.
func TestSeal(t *testing.T) {
	kp := sealtest.MustPair(t, time.Now())
	priv, _ := kp.PrivateKey()
	data := map[string][]byte{"password": []byte("s3cr3t-value"), "user": []byte("shop"), "empty": {}}
	out, err := Seal(kp, Ref{Namespace: "shop", Name: "db"}, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"s3cr3t-value", base64.StdEncoding.EncodeToString([]byte("s3cr3t-value")), "creationTimestamp"} {
		if strings.Contains(string(out), v) {
			t.Errorf("the SealedSecret contains %q:\n%s", v, out)
		}
	}
	var doc sealedDoc
	if err := yaml.UnmarshalStrict(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.APIVersion != "bitnami.com/v1alpha1" || doc.Kind != "SealedSecret" || doc.Metadata["namespace"] != "shop" || doc.Metadata["name"] != "db" ||
		doc.Spec.Template.Metadata["namespace"] != "shop" || doc.Spec.Template.Metadata["name"] != "db" || doc.Spec.Template.Type != "Opaque" || len(doc.Metadata) != 2 {
		t.Errorf("not kubeseal's structure:\n%s", out)
	}
	if len(doc.Spec.EncryptedData) != len(data) {
		t.Fatalf("encryptedData has %d keys, want %d", len(doc.Spec.EncryptedData), len(data))
	}
	for k, want := range data {
		got, err := unseal(priv, doc.Spec.EncryptedData[k], "shop/db")
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q, %v", k, got, err)
		}
		for _, label := range []string{"shop/other", "other/db", "shop", ""} {
			if _, err := unseal(priv, doc.Spec.EncryptedData[k], label); err == nil {
				t.Errorf("%s opened for %q: the scope is not strict", k, label)
			}
		}
	}
	other, _ := sealtest.MustPair(t, time.Now()).PrivateKey()
	if _, err := unseal(other, doc.Spec.EncryptedData["password"], "shop/db"); err == nil {
		t.Error("another key opened the value")
	}
	// The controller's own code (its types, as the controller unseals)
	// agrees.
	var ss ssv1alpha1.SealedSecret
	if err := yaml.Unmarshal(out, &ss); err != nil {
		t.Fatal(err)
	}
	s, err := ss.Unseal(scheme.Codecs, map[string]*rsa.PrivateKey{"k": priv})
	if err != nil || string(s.Data["password"]) != "s3cr3t-value" || s.Namespace != "shop" || s.Name != "db" {
		t.Errorf("the controller's Unseal: %v %+v", err, s)
	}
}

// envFile is an environment committing to url at clusters/dev, with the
// secrets block given.
func envFor(t *testing.T, url, secrets string) *spec.Environment {
	t.Helper()
	res := spec.Parse("dev.hcl", []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository {
      url  = "`+url+`"
      path = "clusters/dev"
    }
  }
  `+secrets+`
}`), spec.Options{Home: t.TempDir()})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	return res.Env
}

// secret set on a Sealed Secrets environment commits a SealedSecret sealed
// for the latest key of the key store, where a SOPS Secret would go, with
// its namespace; no cluster is involved.
func TestSetSealedSecrets(t *testing.T) {
	ctx := context.Background()
	dir, url := gittest.Bare(t)
	gittest.Commit(t, dir, "main", map[string]string{"clusters/dev/kustomization.yaml": "resources: []\n"})
	store := filepath.Join(t.TempDir(), "dev.pem")
	env := envFor(t, url, `secrets {
    provider = "sealed-secrets"
    key_store "file" { path = "`+store+`" }
  }`)
	git := &gitrepo.Client{URL: url, Branch: "main"}
	ref := Ref{Namespace: "shop", Name: "db"}
	data := map[string][]byte{"password": []byte("hunter2"), "user": []byte("shop")}

	_, err := Set(ctx, env, git, ref, data)
	var nk *NoSealingKeyError
	if !errors.As(err, &nk) || !strings.Contains(err.Error(), "no key at "+store) || !strings.Contains(err.Error(), "groundwork up") {
		t.Fatalf("no key store: %v", err)
	}

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old, latest := sealtest.MustPair(t, t0), sealtest.MustPair(t, t0.AddDate(0, 1, 0))
	if err := sealing.Create(store, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sealing.Append(store, latest); err != nil {
		t.Fatal(err)
	}
	res, err := Set(ctx, env, git, ref, data)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Provider != spec.SecretsSealedSecrets || res.SealingKey == nil || res.SealingKey.ID() != latest.ID() {
		t.Fatalf("result %+v", res)
	}
	if p := Path(env, ref); p != "clusters/dev/secrets/shop/db.yaml" {
		t.Errorf("path %s", p)
	}
	msg := gittest.Git(t, dir, "log", "-1", "--format=%s", "main")
	if msg != "groundwork: set Secret shop/db (keys: password, user), sealed for key "+latest.ID() {
		t.Errorf("commit message %q", msg)
	}
	ns := gittest.Git(t, dir, "show", "main:clusters/dev/secrets/shop/namespace.yaml")
	if !strings.Contains(ns, "kind: Namespace") || !strings.Contains(ns, "name: shop") {
		t.Errorf("namespace.yaml:\n%s", ns)
	}
	committed := gittest.Git(t, dir, "show", "main:clusters/dev/secrets/shop/db.yaml")
	if strings.Contains(committed, "hunter2") {
		t.Fatal("the plaintext was committed")
	}
	var doc sealedDoc
	if err := yaml.Unmarshal([]byte(committed), &doc); err != nil || doc.Kind != "SealedSecret" {
		t.Fatalf("%v\n%s", err, committed)
	}
	latestKey, _ := latest.PrivateKey()
	oldKey, _ := old.PrivateKey()
	if got, err := unseal(latestKey, doc.Spec.EncryptedData["password"], "shop/db"); err != nil || string(got) != "hunter2" {
		t.Errorf("the latest key does not open it: %q %v", got, err)
	}
	if _, err := unseal(oldKey, doc.Spec.EncryptedData["password"], "shop/db"); err == nil {
		t.Error("sealed for the old key, not the latest")
	}
	if _, err := os.Stat(store); err != nil {
		t.Fatal(err)
	}
}

// External Secrets keeps the values in the external store: secret set
// says so and where, and commits nothing.
func TestSetExternalSecretsRefused(t *testing.T) {
	dir, url := gittest.Bare(t)
	env := envFor(t, url, `secrets {
    provider = "external-secrets"
    external_store "aws-secrets-manager" { region = "eu-west-1" }
  }`)
	_, err := Set(context.Background(), env, &gitrepo.Client{URL: url, Branch: "main"}, Ref{Namespace: "shop", Name: "db"}, map[string][]byte{"a": []byte("b")})
	var ee *ExternalSecretsError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "AWS Secrets Manager (eu-west-1)") || !strings.Contains(err.Error(), "ExternalSecret") {
		t.Fatalf("%v", err)
	}
	if gittest.Head(t, dir, "main") != "" {
		t.Error("something was committed")
	}
}

// SOPS still needs the repository's .sops.yaml, and says where it looked.
func TestSetSOPSNeedsSeededRepository(t *testing.T) {
	_, url := gittest.Bare(t)
	env := envFor(t, url, "")
	_, err := Set(context.Background(), env, &gitrepo.Client{URL: url, Branch: "main"}, Ref{Namespace: "shop", Name: "db"}, map[string][]byte{"a": []byte("b")})
	if err == nil || !strings.Contains(err.Error(), "clusters/dev/.sops.yaml") || !strings.Contains(err.Error(), "run groundwork up first") {
		t.Fatalf("%v", err)
	}
}

// The YAML of a Secret is what it always was (what SOPS encrypts), without
// the null creationTimestamp, and a data key of that name stays.
func TestMarshalSecret(t *testing.T) {
	s := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte("x"), "creationTimestamp": {0x9e, 0xe9, 0x65}},
	}
	got, err := marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\ndata:\n  creationTimestamp: \"null\"\n  password: eA==\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\ntype: Opaque\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// As groundwork wrote it before.
	before, _ := yaml.Marshal(s)
	if old := strings.Replace(string(before), "  creationTimestamp: null\n", "", 1); old != string(got) {
		t.Errorf("the plaintext changed:\n%s\nwas\n%s", got, old)
	}
}
