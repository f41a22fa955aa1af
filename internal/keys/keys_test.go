package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestFileStoreLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "dev.agekey")
	s := FileStore{Path: path}
	var nf *NotFoundError
	if _, err := s.Load(); !errors.As(err, &nf) || nf.Where != path {
		t.Fatalf("empty store: %v", err)
	}
	id, created, err := LoadOrCreate(s)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes: file %v dir %v", fi.Mode(), di.Mode())
	}
	again, created, err := LoadOrCreate(s)
	if err != nil || created || again.String() != id.String() {
		t.Fatalf("second call must reuse the key: created=%v err=%v", created, err)
	}
	if err := s.Create(id); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Fatalf("overwrite: %v", err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "# public key: "+id.Recipient().String()) {
		t.Fatalf("file lacks the public key comment:\n%s", b)
	}
}

func TestFileStoreRefusesReadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	id, _ := age.GenerateX25519Identity()
	os.WriteFile(path, []byte(id.String()+"\n"), 0o644)
	_, err := FileStore{Path: path}.Load()
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestFileStoreRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, err := (FileStore{Path: path}).Load(); err == nil || !strings.Contains(err.Error(), "not an age identity") {
		t.Fatalf("got %v", err)
	}
}

func TestEnvStore(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	got, err := EnvStore{Variable: "K", Environ: []string{"X=1", "K=" + id.String()}}.Load()
	if err != nil || got.Recipient().String() != id.Recipient().String() {
		t.Fatalf("load: %v", err)
	}
	var nf *NotFoundError
	if _, err := (EnvStore{Variable: "K"}).Load(); !errors.As(err, &nf) || nf.Where != "environment variable K" {
		t.Fatalf("missing: %v", err)
	}
}
