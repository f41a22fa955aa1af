package rebuild

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"

	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/secret"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdRebuild(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/existing.hcl", "--dry-run", "--lock-timeout", "0s", "--plain-http-charts"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "environments/existing.hcl" || !got.DryRun || got.LockTimeout != 0 || !got.PlainHTTPCharts {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdRebuild(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl"})
	if err := cmd.Execute(); err != nil || got.DryRun || got.LockTimeout != 10*time.Minute {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

// TestDryRunSaysWhatTheEngineDeclares: rebuild --dry-run of an Argo CD
// environment names the Applications Git declares, as Applications (it
// called them "kustomizations" before the engine interface).
func TestDryRunSaysWhatTheEngineDeclares(t *testing.T) {
	bare, url := gittest.Bare(t)
	file, pem := spectest.EnvFile(t, t.TempDir(), url, spec.EngineArgoCD)
	res := spec.Load(file, spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	// The environment as up left it: its sealing key stored, its files in
	// Git.
	if err := os.MkdirAll(filepath.Dir(pem), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sealing.Create(pem, sealtest.MustPair(t, time.Now())); err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(res.Env, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seeded := map[string]string{}
	for _, f := range files {
		seeded[f.Path] = string(f.Data)
	}
	gittest.Commit(t, bare, "main", seeded)

	f, io := cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	f.Globals.StateDir = t.TempDir()
	if err := Run(context.Background(), &Options{F: f, File: file, DryRun: true}); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	var doc struct {
		Declared struct {
			Kind  string   `json:"kind"`
			Names []string `json:"names"`
		} `json:"declared"`
		Kustomizations any `json:"kustomizations"`
	}
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, io.Out)
	}
	if doc.Declared.Kind != "Application" || !slices.Contains(doc.Declared.Names, "dev-root") || !slices.Contains(doc.Declared.Names, "argocd") || doc.Kustomizations != nil {
		t.Errorf("dry run of an Argo CD environment:\n%s", io.Out)
	}

	f, io = cmdtest.NewFactory()
	f.Globals.StateDir = t.TempDir()
	if err := Run(context.Background(), &Options{F: f, File: file, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(io.Out.String(), "and wait for the Applications Git declares: ") || strings.Contains(io.Out.String(), "Kustomization") {
		t.Errorf("dry run text:\n%s", io.Out)
	}
}

// TestRefusesAKeyStoreWithAnotherKey: the key store holds an age key other
// than the one the repository is encrypted for; rebuild stops before its
// first step (no lock, no journal: the cluster, which this test does not
// even have, is never reached), naming the file and the recipient Git
// has. The Argo CD environment's key store holds a sealing key other than
// the one its SealedSecret was sealed for: the same. Real git (file://),
// real keys, a Secret encrypted by the sops library and one sealed by the
// sealed-secrets library.
func TestRefusesAKeyStoreWithAnotherKey(t *testing.T) {
	for _, engine := range []string{spec.EngineFlux, spec.EngineArgoCD} {
		t.Run(engine, func(t *testing.T) {
			bare, url := gittest.Bare(t)
			file, store := spectest.EnvFile(t, t.TempDir(), url, engine)
			res := spec.Load(file, spec.Options{})
			if res.Diags.HasErrors() {
				t.Fatal(res.Diags)
			}
			env := res.Env
			ref := secret.Ref{Namespace: "shop", Name: "db"}
			var opts render.Options
			var enc []byte
			var gitHas string // what the Secret is encrypted for, as the error names it
			if engine == spec.EngineFlux {
				gitKey, _ := age.GenerateX25519Identity()
				opts.AgeRecipient, gitHas = gitKey.Recipient().String(), gitKey.Recipient().String()
				var err error
				if enc, err = sopsenc.EncryptYAML([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  password: hunter2\n"), gitHas); err != nil {
					t.Fatal(err)
				}
				if _, _, err := keys.LoadOrCreate(keys.FileStore{Path: store}); err != nil {
					t.Fatal(err)
				}
			} else {
				var err error
				if enc, err = secret.Seal(sealtest.MustPair(t, time.Now()), ref, map[string][]byte{"password": []byte("hunter2")}); err != nil {
					t.Fatal(err)
				}
				gitHas = "SealedSecret shop/db does not unseal"
				if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := sealing.Create(store, sealtest.MustPair(t, time.Now())); err != nil {
					t.Fatal(err)
				}
			}
			files, err := render.Render(env, opts)
			if err != nil {
				t.Fatal(err)
			}
			seeded := map[string]string{secret.Path(env, ref): string(enc)}
			for _, f := range files {
				seeded[f.Path] = string(f.Data)
			}
			gittest.Commit(t, bare, "main", seeded)

			for _, dry := range []bool{true, false} {
				f, io := cmdtest.NewFactory()
				f.Globals.StateDir = t.TempDir()
				err := Run(context.Background(), &Options{F: f, File: file, DryRun: dry})
				msg := fmt.Sprint(err)
				if err == nil || !strings.Contains(msg, "rebuild of dev stopped before touching the cluster: ") || !strings.Contains(msg, "key custody of environment dev") ||
					!strings.Contains(msg, "clusters/dev/secrets/shop/db.yaml: ") || !strings.Contains(msg, gitHas) || !strings.Contains(msg, store) {
					t.Fatalf("dry run %v: want a refusal naming the Secret's file and %q, got %v\n%s", dry, gitHas, err, io.ErrOut)
				}
				if entries, _ := os.ReadDir(f.Globals.StateDir); len(entries) != 0 {
					t.Errorf("dry run %v: rebuild wrote its state (lock, journal) before refusing: %v", dry, entries)
				}
			}
		})
	}
}
