package up

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/secret"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

// TestSeedChecksKeyCustody: the key store lost its age key, so up makes a
// new one and seeds .sops.yaml for it; the Secret already in Git is
// encrypted for the lost key, and the seed step says so, naming the file
// and the recipient, instead of going on to a cluster that cannot decrypt
// it. With the key back, the seed step passes the check. Real git
// (file://), real age keys and a Secret encrypted by the sops library.
func TestSeedChecksKeyCustody(t *testing.T) {
	ctx := context.Background()
	bare, url := gittest.Bare(t)
	env := spectest.EnvOn(t, url, spec.EngineFlux)
	ks := keys.FileStore{Path: env.Secrets.KeyStore.Path}
	lost, _, err := keys.LoadOrCreate(ks)
	if err != nil {
		t.Fatal(err)
	}
	// The repository as an earlier up and secret set left it.
	files, err := render.Render(env, render.Options{AgeRecipient: lost.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sopsenc.EncryptYAML([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: hunter2\n"), lost.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	seeded := map[string]string{}
	for _, f := range files {
		seeded[f.Path] = string(f.Data)
	}
	dbPath := secret.Path(env, secret.Ref{Namespace: "shop", Name: "db"})
	seeded[dbPath] = string(enc)
	gittest.Commit(t, bare, "main", seeded)
	if err := os.Rename(ks.Path, ks.Path+".lost"); err != nil {
		t.Fatal(err)
	}

	r, err := New(Options{Env: env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Before anything (the secrets step would put a new key into the
	// running cluster): the preflight refuses, naming the file.
	if err := r.custodyPrerequisite(ctx); err == nil || !strings.Contains(err.Error(), "the key store has no key") || !strings.Contains(err.Error(), dbPath) {
		t.Fatalf("preflight with the key lost: %v", err)
	}
	// A key store holding another key: the same, as a mismatch.
	if _, _, err := keys.LoadOrCreate(ks); err != nil {
		t.Fatal(err)
	}
	var pre *custody.MismatchError
	if err := r.custodyPrerequisite(ctx); !errors.As(err, &pre) || !strings.Contains(err.Error(), dbPath+": ") {
		t.Fatalf("preflight with another key: %v", err)
	}
	if err := os.Remove(ks.Path); err != nil {
		t.Fatal(err)
	}
	err = r.applySeed(ctx)
	var me *custody.MismatchError
	if !errors.As(err, &me) || len(me.Problems) != 1 || me.Problems[0].File != dbPath ||
		!strings.Contains(err.Error(), "is encrypted for age recipient "+lost.Recipient().String()+" only") ||
		!strings.Contains(err.Error(), "put the age key whose public key is "+lost.Recipient().String()+" back into "+ks.Path) {
		t.Fatalf("seed with a new key: want a custody mismatch naming %s and the lost recipient, got %v", dbPath, err)
	}
	if r.Custody == nil || r.Custody.State != custody.StateMismatch {
		t.Errorf("report: %+v", r.Custody)
	}
	t.Logf("%v", err)

	// The key put back: Git is encrypted for it again (up re-seeds
	// .sops.yaml), and the check passes.
	if err := os.Rename(ks.Path+".lost", ks.Path); err != nil {
		t.Fatal(err)
	}
	r, err = New(Options{Env: env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.applySeed(ctx); err != nil {
		t.Fatalf("seed with the key back: %v", err)
	}
	if r.Custody.State != custody.StateOK || len(r.Custody.Decrypted) != 1 {
		t.Fatalf("report: %+v", r.Custody)
	}
	t.Logf("custody check after seeding: %d ms", r.Custody.TookMS)
}
