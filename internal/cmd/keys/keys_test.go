package keys

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/rotate"
	"github.com/groundwork-dev/groundwork/internal/sealing"
)

// Behaviour is proven on the harness (tests/e2e, TestRebuildAfterWipe).
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *RotateOptions
	cmd := NewCmdRotate(f, func(o *RotateOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"prod.hcl", "--lock-timeout", "0"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "prod.hcl" || got.LockTimeout != 0*time.Second {
		t.Fatalf("options: %+v", got)
	}
}

// sealedEnvFile writes a Sealed Secrets environment on a kind cluster
// whose key store holds one key pair.
func sealedEnvFile(t *testing.T, provider string) (file, store string) {
	t.Helper()
	dir := t.TempDir()
	store = filepath.Join(dir, "keys", "dev.pem")
	block := `key_store "file" { path = "keys/dev.pem" }`
	if provider == "external-secrets" {
		block = `external_store "aws-secrets-manager" { region = "eu-west-1" }`
	}
	file = filepath.Join(dir, "dev.hcl")
	if err := os.WriteFile(file, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "`+provider+`"
    `+block+`
  }
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, store
}

// Without a key store there is nothing to rotate; without a cluster that
// answers, no new key is made (the store is left as it is).
func TestRotateSealedSecretsNeedsKeyAndCluster(t *testing.T) {
	ctx := context.Background()
	file, store := sealedEnvFile(t, "sealed-secrets")
	f, _ := cmdtest.NewFactory()
	f.Globals.StateDir = t.TempDir()
	err := RunRotate(ctx, &RotateOptions{F: f, File: file})
	if err == nil || !strings.Contains(err.Error(), "has no sealing key to rotate: no key at "+store) {
		t.Fatalf("no key store: %v", err)
	}
	if _, _, err := sealing.LoadOrCreate(store, time.Now()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(store)
	if err := RunRotate(ctx, &RotateOptions{F: f, File: file}); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("no cluster: %v", err)
	}
	if after, _ := os.ReadFile(store); string(after) != string(before) {
		t.Error("a key was added although the cluster could not be reached")
	}
	ext, _ := sealedEnvFile(t, "external-secrets")
	if err := RunRotate(ctx, &RotateOptions{F: f, File: ext}); err == nil || !strings.Contains(err.Error(), "nothing for keys rotate to rotate") {
		t.Errorf("external secrets: %v", err)
	}
}

// The report of a Sealed Secrets rotation, as text and as JSON.
func TestReportSealed(t *testing.T) {
	kp, err := sealing.Generate(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	res := &rotate.SealedResult{Key: kp, Namespace: "kube-system", Secret: sealing.SecretNameOf(kp), KeyStore: "/keys/dev.pem", Keys: 3,
		Rescued: []sealing.Rescued{{Secret: "sealed-secrets-keyab12c", Key: kp}}}
	f, s := cmdtest.NewFactory()
	if err := reportSealed(f, "dev", res, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Rotated the sealing key of dev in 1.5s: new SealedSecrets are sealed for key " + kp.ID() + " (certificate from 2026-03-01T00:00:00Z), applied as Secret kube-system/groundwork-sealing-key-" + kp.ID() + ".",
		"kept key " + kp.ID(), "kube-system/sealed-secrets-keyab12c",
		"3 key(s) kept in /keys/dev.pem and in the cluster: SealedSecrets sealed before still decrypt; nothing in Git needs re-encrypting",
	} {
		if !strings.Contains(s.Out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, s.Out)
		}
	}
	f, s = cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	if err := reportSealed(f, "dev", res, time.Second); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["provider"] != "sealed-secrets" || doc["new_key"] != kp.ID() || doc["secret"] != "kube-system/groundwork-sealing-key-"+kp.ID() ||
		doc["keys"] != float64(3) || doc["not_before"] != "2026-03-01T00:00:00Z" || doc["key_store"] != "/keys/dev.pem" || doc["took_ms"] != float64(1000) {
		t.Errorf("json: %v", doc)
	}
	if r, _ := doc["rescued"].([]any); len(r) != 1 {
		t.Errorf("rescued: %v", doc["rescued"])
	}
}

// TestRefusedRotationLeavesNoState: a rotation refused on an environment
// that has no state (nothing to rotate, no key) made its state directory
// and left a lock in it.
func TestRefusedRotationLeavesNoState(t *testing.T) {
	for _, provider := range []string{"external-secrets", "sealed-secrets"} {
		file, _ := sealedEnvFile(t, provider)
		f, _ := cmdtest.NewFactory()
		if err := RunRotate(context.Background(), &RotateOptions{F: f, File: file}); err == nil {
			t.Fatalf("%s: rotated", provider)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), ".groundwork")); !os.IsNotExist(err) {
			t.Errorf("%s: the refused rotation left a state directory: %v", provider, err)
		}
	}
}
