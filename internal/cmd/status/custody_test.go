package status

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/secret"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

// TestStatusShowsKeyCustody: status says whether Git and the key store
// agree, in text and JSON: ok with the key Git is encrypted for; with
// another key in the store, the mismatch with the file and the recipient,
// and the environment unhealthy; with no key on this machine, not checked
// (which does not count). The cluster is not there (its kubeconfig does
// not exist): custody needs only Git and the key store. Real git
// (file://), real age keys, a Secret encrypted by the sops library.
func TestStatusShowsKeyCustody(t *testing.T) {
	bare, url := gittest.Bare(t)
	file, store := spectest.EnvFile(t, t.TempDir(), url, spec.EngineFlux)
	res := spec.Load(file, spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	env := res.Env
	id, _, err := keys.LoadOrCreate(keys.FileStore{Path: store})
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(env, render.Options{AgeRecipient: id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sopsenc.EncryptYAML([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: hunter2\n"), id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	dbPath := secret.Path(env, secret.Ref{Namespace: "shop", Name: "db"})
	seeded := map[string]string{dbPath: string(enc)}
	for _, f := range files {
		seeded[f.Path] = string(f.Data)
	}
	gittest.Commit(t, bare, "main", seeded)

	run := func(asJSON bool) (Document, string, string) {
		f, io := cmdtest.NewFactory()
		f.Globals.StateDir = t.TempDir()
		if asJSON {
			f.Globals.Output = cmdutil.OutputJSON
		}
		_ = Run(context.Background(), &Options{F: f, File: file}) // unhealthy: no cluster
		var doc Document
		if asJSON {
			if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil {
				t.Fatalf("%v\n%s", err, io.Out)
			}
		}
		return doc, io.Out.String(), io.ErrOut.String()
	}

	doc, _, _ := run(true)
	if c := doc.Custody; c == nil || c.State != custody.StateOK || len(c.Decrypted) != 1 || c.Decrypted[0] != dbPath || c.StoreRecipient != id.Recipient().String() {
		t.Fatalf("agreeing: %+v", doc.Custody)
	}
	if _, out, _ := run(false); !strings.Contains(out, "✓ custody     ok: the key store's age key "+id.Recipient().String()) {
		t.Errorf("agreeing, text:\n%s", out)
	}

	// Another key in the store.
	if err := os.Remove(store); err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	if err := (keys.FileStore{Path: store}).Create(other); err != nil {
		t.Fatal(err)
	}
	doc, _, _ = run(true)
	if c := doc.Custody; c == nil || c.State != custody.StateMismatch || !strings.Contains(c.Error, dbPath+": is encrypted for age recipient "+id.Recipient().String()) || doc.Healthy {
		t.Fatalf("another key: healthy %v, %+v", doc.Healthy, doc.Custody)
	}
	_, out, _ := run(false)
	for _, want := range []string{"✗ custody     mismatch: 2 file(s) in Git the key store's key cannot decrypt", "    " + dbPath + ": is encrypted for age recipient " + id.Recipient().String(), "    To fix: put the age key whose public key is " + id.Recipient().String()} {
		if !strings.Contains(out, want) {
			t.Errorf("another key, text lacks %q:\n%s", want, out)
		}
	}

	// No key on this machine.
	if err := os.Remove(store); err != nil {
		t.Fatal(err)
	}
	doc, _, _ = run(true)
	if c := doc.Custody; c == nil || c.State != custody.StateUnchecked || !strings.Contains(c.Summary, "no key at "+store) {
		t.Fatalf("no key: %+v", doc.Custody)
	}
	if _, out, _ := run(false); !strings.Contains(out, "? custody     not checked: no key at "+store) {
		t.Errorf("no key, text:\n%s", out)
	}
}
