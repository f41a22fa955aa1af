package secret

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
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *SetOptions
	cmd := NewCmdSet(f, func(o *SetOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl", "shop/db", "user=app", "password=-"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "dev.hcl" || got.Secret != "shop/db" || strings.Join(got.Pairs, " ") != "user=app password=-" {
		t.Fatalf("options: %+v", got)
	}
}

func TestParseData(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	data, err := ParseData([]string{"a=plain", "b=@" + file, "c=-", "d=x=y"}, strings.NewReader("from-stdin\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "plain", "b": "from-file\n", "c": "from-stdin", "d": "x=y"}
	for k, v := range want {
		if string(data[k]) != v {
			t.Errorf("%s = %q, want %q", k, data[k], v)
		}
	}
	for _, bad := range [][]string{{"novalue"}, {"a=-", "b=-"}, {"a=1", "a=2"}, {"bad key=1"}, {"a=@/nonexistent"}} {
		if _, err := ParseData(bad, strings.NewReader("")); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// sealedEnvFile writes an environment file with Sealed Secrets committing
// to url, and its key store with one key pair.
func sealedEnvFile(t *testing.T, url string) (file string, kp *sealing.KeyPair) {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "keys", "dev.pem")
	k, _, err := sealing.LoadOrCreate(store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "dev.hcl")
	src := `environment "dev" {
  cluster "kind" {}
  gitops {
    repository {
      url  = "` + url + `"
      path = "clusters/dev"
    }
  }
  secrets {
    provider = "sealed-secrets"
    key_store "file" { path = "keys/dev.pem" }
  }
}`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, k[0]
}

// On a Sealed Secrets environment secret set commits a SealedSecret
// sealed for the key store's certificate, says so, and never prints the
// value.
func TestSetSealedSecrets(t *testing.T) {
	dir, url := gittest.Bare(t)
	file, kp := sealedEnvFile(t, url)
	for _, jsonOut := range []bool{false, true} {
		f, s := cmdtest.NewFactory()
		f.IO.In = strings.NewReader("the-password\n")
		if jsonOut {
			f.Globals.Output = cmdutil.OutputJSON
		}
		err := RunSet(context.Background(), &SetOptions{F: f, File: file, Secret: "shop/db", Pairs: []string{"password=-", "user=shop"}})
		if err != nil {
			t.Fatalf("json %t: %v\n%s", jsonOut, err, s.ErrOut)
		}
		out := s.Out.String() + s.ErrOut.String()
		if strings.Contains(out, "the-password") {
			t.Fatalf("the value was printed:\n%s", out)
		}
		if !jsonOut {
			if !strings.HasPrefix(s.Out.String(), "Committed SealedSecret shop/db (keys: password, user), sealed for sealing key "+kp.ID()+", as clusters/dev/secrets/shop/db.yaml in main@sha1:") {
				t.Errorf("output: %s", s.Out)
			}
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil {
			t.Fatalf("%v: %s", err, s.Out)
		}
		if doc["provider"] != "sealed-secrets" || doc["sealing_key"] != kp.ID() || doc["path"] != "clusters/dev/secrets/shop/db.yaml" || doc["changed"] != true {
			t.Errorf("json: %v", doc)
		}
	}
	committed := gittest.Git(t, dir, "show", "main:clusters/dev/secrets/shop/db.yaml")
	if !strings.Contains(committed, "kind: SealedSecret") || strings.Contains(committed, "the-password") {
		t.Errorf("committed:\n%s", committed)
	}
}

// External Secrets environments are refused with the reason; nothing is
// read from standard input's secret or committed.
func TestSetExternalSecretsRefused(t *testing.T) {
	dir, url := gittest.Bare(t)
	file := filepath.Join(t.TempDir(), "dev.hcl")
	os.WriteFile(file, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "`+url+`" }
  }
  secrets {
    provider = "external-secrets"
    external_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}`), 0o644)
	f, _ := cmdtest.NewFactory()
	err := RunSet(context.Background(), &SetOptions{F: f, File: file, Secret: "shop/db", Pairs: []string{"a=b"}})
	if err == nil || !strings.Contains(err.Error(), "uses External Secrets") {
		t.Fatalf("%v", err)
	}
	if gittest.Head(t, dir, "main") != "" {
		t.Error("something was committed")
	}
}
