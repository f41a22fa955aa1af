package sealing

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/keys"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "dev.sealed-secrets.pem")
	if _, err := Load(path); !errors.As(err, new(*keys.NotFoundError)) {
		t.Fatalf("missing: %v", err)
	}
	kp, created, err := LoadOrCreate(path, time.Now())
	if err != nil || !created {
		t.Fatalf("create: %v %t", err, created)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	pair, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil || pair.Leaf == nil && len(pair.Certificate) == 0 {
		t.Fatalf("not a key pair: %v", err)
	}
	again, created, err := LoadOrCreate(path, time.Now())
	if err != nil || created || string(again.KeyPEM) != string(kp.KeyPEM) {
		t.Fatalf("second load: %v %t", err, created)
	}
	if err := Create(path, kp); err == nil {
		t.Error("Create overwrote a key")
	}
	os.Chmod(path, 0o644)
	if _, err := Load(path); err == nil {
		t.Error("a world-readable key was used")
	}
}
