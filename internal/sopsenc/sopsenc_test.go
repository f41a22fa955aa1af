package sopsenc

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

const manifest = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
data:
  password: aHVudGVyMg==
`

// TestEncryptDecrypt encrypts for two recipients and decrypts with each
// through the sops library, as Flux does; metadata stays readable.
func TestEncryptDecrypt(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	enc, err := EncryptYAML([]byte(manifest), a.Recipient().String(), b.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("aHVudGVyMg==")) || !bytes.Contains(enc, []byte("name: db")) || !bytes.Contains(enc, []byte("ENC[AES256_GCM")) {
		t.Fatalf("encrypted manifest:\n%s", enc)
	}
	for _, id := range []*age.X25519Identity{a, b} {
		t.Setenv("SOPS_AGE_KEY", id.String())
		store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
		tree, err := store.LoadEncryptedFile(enc)
		if err != nil {
			t.Fatal(err)
		}
		key, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewLocalClient()}, nil)
		if err != nil {
			t.Fatalf("data key: %v", err)
		}
		if _, err := tree.Decrypt(key, aes.NewCipher()); err != nil {
			t.Fatalf("decrypt (MAC checked by sops on load in Flux): %v", err)
		}
		plain, err := store.EmitPlainFile(tree.Branches)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(plain), "password: aHVudGVyMg==") {
			t.Errorf("decrypted:\n%s", plain)
		}
	}
	if _, err := EncryptYAML([]byte(manifest)); err == nil {
		t.Error("no recipient must be an error")
	}
	if _, err := EncryptYAML([]byte(manifest), "age1bogus"); err == nil {
		t.Error("a bad recipient must be an error")
	}
}

func TestDecryptYAML(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	enc, err := EncryptYAML([]byte(manifest), a.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(enc) || IsEncrypted([]byte(manifest)) {
		t.Fatal("IsEncrypted")
	}
	if r, err := Recipients(enc); err != nil || len(r) != 1 || r[0] != a.Recipient().String() {
		t.Fatalf("recipients %v %v", r, err)
	}
	plain, err := DecryptYAML(enc, b.String(), a.String())
	if err != nil || !strings.Contains(string(plain), "password: aHVudGVyMg==") || strings.Contains(string(plain), "sops:") {
		t.Fatalf("decrypt: %v\n%s", err, plain)
	}
	if _, err := DecryptYAML(enc, b.String()); err == nil || !strings.Contains(err.Error(), "none of the given age keys") {
		t.Errorf("wrong key: %v", err)
	}
	tampered := strings.Replace(string(enc), "namespace: shop", "namespace: other", 1)
	if _, err := DecryptYAML([]byte(tampered), a.String()); err == nil || !strings.Contains(err.Error(), "MAC mismatch") {
		t.Errorf("tampered file: %v", err)
	}
}
