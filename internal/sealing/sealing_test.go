package sealing

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/keys"
)

// pair makes a key pair quickly (RSA 2048, not Generate's 4096) whose
// certificate starts at notBefore.
func pair(t *testing.T, notBefore time.Time) *KeyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(notBefore.Unix()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "dev.sealed-secrets.pem")
	if _, err := Load(path); !errors.As(err, new(*keys.NotFoundError)) {
		t.Fatalf("missing: %v", err)
	}
	now := time.Date(2026, 5, 6, 7, 8, 9, 500, time.UTC)
	k, created, err := LoadOrCreate(path, now)
	if err != nil || !created || len(k) != 1 {
		t.Fatalf("create: %v %t %d", err, created, len(k))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v", fi.Mode())
	}
	if err := k[0].check(); err != nil {
		t.Fatalf("not a key pair: %v", err)
	}
	if nb := k[0].NotBefore(); !nb.Equal(now.Truncate(time.Second)) {
		t.Errorf("NotBefore %v, want %v (the controller orders keys by it)", nb, now)
	}
	if pk, err := k[0].PrivateKey(); err != nil || pk.N.BitLen() != 4096 {
		t.Errorf("private key: %v", err)
	}
	again, created, err := LoadOrCreate(path, time.Now())
	if err != nil || created || len(again) != 1 || string(again[0].KeyPEM) != string(k[0].KeyPEM) {
		t.Fatalf("second load: %v %t", err, created)
	}
	if err := Create(path, k[0]); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("Create overwrote a key: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("a world-readable key was used: %v", err)
	}
}

// Every pair stays, in order; appending never changes the bytes already
// stored, and leaves nothing beside the store.
func TestStoreKeepsEveryPair(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev.pem")
	a, b, c := pair(t, t0), pair(t, t0.Add(time.Hour)), pair(t, t0.Add(2*time.Hour))
	if err := Create(path, a); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	all, added, err := Append(path, b, a, c, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 || added[0] != b || added[1] != c || len(all) != 3 {
		t.Fatalf("added %d, all %d: want b and c added once, a kept", len(added), len(all))
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) {
		t.Error("appending changed the pairs already stored")
	}
	got, err := LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []*KeyPair{a, b, c} {
		if i >= len(got) || !got[i].Same(want) {
			t.Fatalf("pair %d is not the one stored %d-th", i, i)
		}
	}
	if first, _ := Load(path); !first.Same(a) {
		t.Error("Load must return the first pair (Secret groundwork-sealing-key)")
	}
	if got.Latest() == nil || !got.Latest().Same(c) {
		t.Error("Latest is not the pair with the latest certificate")
	}
	if _, added, err := Append(path, a, c); err != nil || len(added) != 0 {
		t.Errorf("appending stored pairs: %d added, %v", len(added), err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, after) {
		t.Error("appending nothing rewrote the store")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after append", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files beside the store: %v", entries)
	}
	// Names: the first keeps the name it always had; the others are
	// derived from their certificate and never change.
	if got.SecretNameAt(0) != "groundwork-sealing-key" || got.SecretNameAt(2) != "groundwork-sealing-key-"+c.ID() || len(c.ID()) != 10 {
		t.Errorf("names %s %s", got.SecretNameAt(0), got.SecretNameAt(2))
	}
	secrets := got.Secrets("kube-system")
	if len(secrets) != 3 || secrets[1].Name != SecretNameOf(b) || secrets[1].Labels[KeyLabel] != "active" ||
		secrets[1].Labels[ManagedByLabel] != "groundwork" || string(secrets[1].Data["tls.key"]) != string(b.KeyPEM) {
		t.Errorf("key Secrets: %+v", secrets)
	}
}

// A store written before groundwork kept several pairs (one certificate
// and one key, in either order, maybe with text around) is a store of one
// pair, and appending to it keeps its bytes.
func TestOnePairFileStaysValid(t *testing.T) {
	a := pair(t, t0)
	for name, data := range map[string]string{
		"cert then key":  string(a.CertPEM) + string(a.KeyPEM),
		"key then cert":  string(a.KeyPEM) + string(a.CertPEM),
		"no final EOL":   "# backup of 2025\n" + string(a.CertPEM) + strings.TrimSuffix(string(a.KeyPEM), "\n"),
		"PKCS#8 key pem": string(a.CertPEM) + string(pkcs8(t, a)),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.pem")
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKeys(path)
			if err != nil || len(k) != 1 || !bytes.Equal(k[0].certDER(), a.certDER()) {
				t.Fatalf("%d pairs, %v", len(k), err)
			}
			b := pair(t, t0.Add(time.Minute))
			if _, _, err := Append(path, b); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			if !strings.HasPrefix(string(after), data) {
				t.Error("the old pair's bytes changed")
			}
			if k, err := LoadKeys(path); err != nil || len(k) != 2 || !k[1].Same(b) {
				t.Fatalf("after append: %d pairs, %v", len(k), err)
			}
		})
	}
}

func pkcs8(t *testing.T, kp *KeyPair) []byte {
	k, err := kp.PrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// A store others can read is refused for reading and for appending (which
// then writes nothing); a broken store is named in the error.
func TestStoreRefusals(t *testing.T) {
	dir := t.TempDir()
	a, b := pair(t, t0), pair(t, t0.Add(time.Hour))
	open := filepath.Join(dir, "open.pem")
	os.WriteFile(open, append(append([]byte{}, a.CertPEM...), a.KeyPEM...), 0o640)
	os.Chmod(open, 0o640)
	for name, f := range map[string]func() error{
		"Load":     func() error { _, err := Load(open); return err },
		"LoadKeys": func() error { _, err := LoadKeys(open); return err },
		"Append":   func() error { _, _, err := Append(open, b); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "others can access it (mode 0640)") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if data, _ := os.ReadFile(open); bytes.Contains(data, b.CertPEM) {
		t.Error("Append wrote to a store it refused")
	}
	other := pair(t, t0)
	cases := map[string]string{
		"empty":                 "",
		"cert alone":            string(a.CertPEM),
		"key of another cert":   string(a.CertPEM) + string(other.KeyPEM),
		"second pair half":      string(a.CertPEM) + string(a.KeyPEM) + string(b.CertPEM),
		"second pair two certs": string(a.CertPEM) + string(a.KeyPEM) + string(b.CertPEM) + string(a.CertPEM),
	}
	for name, data := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem")
		os.WriteFile(p, []byte(data), 0o600)
		_, err := LoadKeys(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+" is not a sealing key pair (a PEM certificate and its RSA key): ") {
			t.Errorf("%s: %v", name, err)
		}
		if strings.HasPrefix(name, "second") && !strings.Contains(err.Error(), "key pair 2") {
			t.Errorf("%s: the error does not say which pair: %v", name, err)
		}
	}
}

// The store is written whole or not at all: a store that changed on disk
// since it was read is not overwritten, a new store never replaces one that
// appeared meanwhile, and nothing is left beside it.
func TestPublishIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.pem")
	if err := publish(path, []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	if err := publish(path, []byte("again"), nil); !errors.Is(err, os.ErrExist) {
		t.Errorf("a new store replaced an existing one: %v", err)
	}
	if err := publish(path, []byte("newer"), []byte("not what is there")); !errors.Is(err, errChanged) {
		t.Errorf("a store that changed meanwhile was overwritten: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("store holds %q", b)
	}
	if err := publish(path, []byte("newer"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "newer" {
		t.Errorf("store holds %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left beside the store: %v", entries)
	}
}

// A store that is a symbolic link stays one: the file it points at grows.
func TestAppendThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "vault", "dev.pem")
	link := filepath.Join(dir, "dev.pem")
	a, b := pair(t, t0), pair(t, t0.Add(time.Hour))
	if err := Create(real, a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Append(link, b); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if k, err := LoadKeys(real); err != nil || len(k) != 2 {
		t.Fatalf("%d pairs in the linked file, %v", len(k), err)
	}
}

// Latest is the controller's choice: the most recent NotBefore, whatever
// the order of the store; on a tie the pair stored last.
func TestLatest(t *testing.T) {
	old, mid, recent := pair(t, t0), pair(t, t0.Add(time.Hour)), pair(t, t0.Add(2*time.Hour))
	if l := (Keys{recent, old, mid}).Latest(); l != recent {
		t.Error("Latest is not the most recent certificate")
	}
	twin := pair(t, t0.Add(2*time.Hour))
	if l := (Keys{recent, twin}).Latest(); l != recent {
		t.Error("on a tie Latest must be the pair stored first, which the controller registered first and keeps")
	}
	if (Keys{}).Latest() != nil {
		t.Error("no keys, no latest")
	}
}
