package drill

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/secret"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
)

const secretYAML = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: hunter2\n"

func sopsEnv(t *testing.T) (*spec.Environment, *age.X25519Identity, []string) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	env := &spec.Environment{Name: "dev"}
	env.GitOps.Repository.Path = "clusters/dev"
	env.Secrets.KeyStore = spec.KeyStore{Type: spec.KeyStoreEnv, Variable: "AGE_KEY"}
	return env, id, []string{"AGE_KEY=" + id.String()}
}

func TestStoreCustodySOPS(t *testing.T) {
	env, id, environ := sopsEnv(t)
	enc, err := sopsenc.EncryptYAML([]byte(secretYAML), id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"clusters/dev/secrets/db.yaml": enc, "clusters/dev/apps/app.yaml": []byte("kind: ConfigMap\n")}
	if err := (StoreCustody{Environ: environ}).Check(context.Background(), env, files); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	// The key store holds another key.
	other, _ := age.GenerateX25519Identity()
	err = (StoreCustody{Environ: []string{"AGE_KEY=" + other.String()}}).Check(context.Background(), env, files)
	var ce *CustodyError
	if !errors.As(err, &ce) || ce.File != "clusters/dev/secrets/db.yaml" || !strings.Contains(err.Error(), id.Recipient().String()) || !strings.Contains(err.Error(), other.Recipient().String()) {
		t.Fatalf("the wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), other.String()) {
		t.Error("the error shows a secret")
	}
	// Recipients that name the key, but a file that does not decrypt
	// (its MAC broken).
	broken := []byte(strings.Replace(string(enc), "mac: ENC[", "mac: ENC[AAAA", 1))
	err = (StoreCustody{Environ: environ}).Check(context.Background(), env, map[string][]byte{"clusters/dev/secrets/db.yaml": broken})
	if !errors.As(err, &ce) || ce.Err == nil {
		t.Fatalf("a file that does not decrypt: %v", err)
	}
}

func TestStoreCustodySealedSecrets(t *testing.T) {
	dir := t.TempDir()
	env := &spec.Environment{Name: "dev"}
	env.GitOps.Repository.Path = "clusters/dev"
	env.Secrets.Provider = spec.SecretsSealedSecrets
	env.Secrets.KeyStore = spec.KeyStore{Type: spec.KeyStoreFile, Path: dir + "/dev.pem"}
	kp := sealtest.MustPair(t, time.Now())
	if err := sealing.Create(env.Secrets.KeyStore.Path, kp); err != nil {
		t.Fatal(err)
	}
	sealed, err := secret.Seal(kp, secret.Ref{Namespace: "shop", Name: "db"}, map[string][]byte{"password": []byte("hunter2")})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"clusters/dev/secrets/db.yaml": sealed}
	if err := (StoreCustody{}).Check(context.Background(), env, files); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	wrong := sealtest.MustPair(t, time.Now())
	sealed, _ = secret.Seal(wrong, secret.Ref{Namespace: "shop", Name: "db"}, map[string][]byte{"password": []byte("hunter2")})
	err = (StoreCustody{}).Check(context.Background(), env, map[string][]byte{"clusters/dev/secrets/db.yaml": sealed})
	var ce *CustodyError
	if !errors.As(err, &ce) || ce.File != "clusters/dev/secrets/db.yaml" {
		t.Fatalf("sealed for another key: %v", err)
	}
}

func TestClassify(t *testing.T) {
	env, id, _ := sopsEnv(t)
	enc, _ := sopsenc.EncryptYAML([]byte(secretYAML), id.Recipient().String())
	files := map[string][]byte{
		"clusters/dev/groundwork/sync.yaml":        []byte("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: flux-system, namespace: flux-system}\n"),
		"clusters/dev/infrastructure/podinfo.yaml": []byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: infra}\n"),
		"clusters/dev/secrets/db.yaml":             enc,
		"clusters/dev/secrets/sealed.yaml":         []byte("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: api, namespace: shop}\n"),
		"clusters/dev/apps/es.yaml":                []byte("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: token, namespace: shop}\n"),
		"clusters/dev/apps/cm.yaml":                []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop, namespace: shop}\n"),
		"clusters/other/apps/x.yaml":               []byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x, namespace: x}\n"),
	}
	got := map[Layer][]string{}
	for _, d := range Classify(env, files) {
		got[d.Layer] = append(got[d.Layer], d.String())
	}
	want := map[Layer]string{
		LayerSources:        "GitRepository flux-system/flux-system",
		LayerInfrastructure: "HelmRelease infra/podinfo",
		LayerApps:           "ExternalSecret shop/token, Kustomization flux-system/flux-system, Secret shop/db, SealedSecret shop/api",
	}
	for l, w := range want {
		if g := strings.Join(got[l], ", "); g != w {
			t.Errorf("%s: %s, want %s", l, g, w)
		}
	}
	if len(got) != 3 {
		t.Errorf("layers: %v", got)
	}
}
