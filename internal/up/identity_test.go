package up

import (
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// An up during a rotation that keys rotate did not finish (the fault
// suite kills it between its phases) keeps the new key in the cluster's
// decryption Secret: the repository may already be encrypted for it alone.
func TestAgeSecretKeepsTheKeyOfARotationUnderWay(t *testing.T) {
	dir := t.TempDir()
	res := spec.Parse(filepath.Join(dir, "e.hcl"), []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    key_store "file" { path = "dev.agekey" }
  }
}
`), spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	id, created, err := keys.LoadOrCreate(keys.FileStore{Path: res.Env.Secrets.KeyStore.Path})
	if err != nil || !created {
		t.Fatalf("key: %v", err)
	}
	r := &Run{opts: Options{Env: res.Env, Logf: t.Logf}, identity: id}
	entries := func() map[string]any {
		data, _ := r.ageSecret().Object["data"].(map[string]any)
		return data
	}
	if got := entries(); len(got) != 1 || got[facts.AgeSecretKey] == nil {
		t.Fatalf("no rotation under way: entries %v, want %s alone", keysOf(got), facts.AgeSecretKey)
	}
	next, _ := age.GenerateX25519Identity()
	if err := (keys.FileStore{Path: res.Env.Secrets.KeyStore.Path + facts.NextKeySuffix}).Create(next); err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != 2 || got[facts.AgeSecretKey] == nil || got[facts.AgeSecretNextKey] == nil {
		t.Fatalf("a rotation under way: entries %v, want %s and %s", keysOf(got), facts.AgeSecretKey, facts.AgeSecretNextKey)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
