package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// TestUpAdoptsEKSByName runs up's cluster and kubeconfig steps for
// cluster "existing" { eks { name, region } }: groundwork finds the cluster
// with DescribeCluster and writes a kubeconfig (0600) holding an EKS token it
// presigned itself (no aws CLI on PATH); Terraform plays no part.
//
// The EKS API cannot be reached from tests: a local server speaks its wire
// format (GET /clusters/{name}, REST JSON). The "cluster" is a local TLS
// server that answers /version only for an EKS token of that cluster: a
// presigned STS GetCallerIdentity URL bound by the x-k8s-aws-id header.
func TestUpAdoptsEKSByName(t *testing.T) {
	ctx := context.Background()
	apiServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer k8s-aws-v1.")
		u, err := base64.RawURLEncoding.DecodeString(tok)
		if !ok || err != nil || !strings.Contains(string(u), "Action=GetCallerIdentity") || !strings.Contains(string(u), "x-k8s-aws-id") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "34", "gitVersion": "v1.34.2-eks-adopted"})
	}))
	t.Cleanup(apiServer.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apiServer.Certificate().Raw})
	eksAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet || r.URL.Path != "/clusters/platform-shared" {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No cluster found."}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cluster": map[string]any{
			"name": "platform-shared", "status": "ACTIVE", "endpoint": apiServer.URL,
			"certificateAuthority": map[string]any{"data": base64.StdEncoding.EncodeToString(ca)}}})
	}))
	t.Cleanup(eksAPI.Close)

	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir()) // no aws CLI: groundwork presigns the token
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_EKS", eksAPI.URL)

	adopt := func(t *testing.T, name string) (*up.Run, string, error) {
		file := filepath.Join(t.TempDir(), "shared.hcl")
		src := `environment "shared" {
  cluster "existing" {
    eks {
      name   = "` + name + `"
      region = "eu-west-1"
    }
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		res := spec.Load(file, spec.Options{Home: dir, ConfigDir: dir})
		if res.Diags.HasErrors() {
			t.Fatal(res.Diags)
		}
		stateDir := filepath.Join(filepath.Dir(file), ".groundwork", "shared")
		j, err := actions.OpenJournal(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := up.New(up.Options{Env: res.Env, StateDir: stateDir, CacheDir: filepath.Join(dir, "cache"), Journal: j})
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&actions.Runner{Command: "up", Journal: j}).Run(ctx, r.Steps()[:2]) // cluster, kubeconfig
		return r, stateDir, err
	}

	r, stateDir, err := adopt(t, "platform-shared")
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if r.ServerVersion != "v1.34.2-eks-adopted" || r.Kubeconfig != filepath.Join(stateDir, "kubeconfig") {
		t.Errorf("kubeconfig step: version %q, kubeconfig %q", r.ServerVersion, r.Kubeconfig)
	}
	fi, err := os.Stat(r.Kubeconfig)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %v, %v; want mode 0600", fi, err)
	}
	b, _ := os.ReadFile(r.Kubeconfig)
	if !strings.Contains(string(b), "k8s-aws-v1.") || strings.Contains(string(b), "wJalrXUtnFEMI-test-secret") {
		t.Errorf("the kubeconfig should hold an EKS token and never the AWS secret key:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "terraform")); !os.IsNotExist(err) {
		t.Errorf("adopting a cluster ran Terraform: %v", err)
	}

	_, _, err = adopt(t, "missing")
	if err == nil || !strings.Contains(err.Error(), `no EKS cluster "missing" in eu-west-1`) {
		t.Errorf("adopting a cluster that does not exist: %v", err)
	}
}
