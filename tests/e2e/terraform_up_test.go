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
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/down"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/internal/up"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// fakeAPIServer answers /version over TLS as a kube-apiserver does, and
// only for the bearer token given: all the kubeconfig step asks of a
// cluster.
func fakeAPIServer(t *testing.T, token string) *httptest.Server {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "34", "gitVersion": "v1.34.2-eks-fake"})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// fakeEKSModuleFor copies the fake module (modules/eks's interface over
// terraform_data) and points its endpoint and CA outputs at server.
func fakeEKSModuleFor(t *testing.T, server *httptest.Server) string {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "cluster", "remote", "testdata", "fake-eks")
	dst := t.TempDir()
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if f == "outputs.tf" {
			ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
			s = strings.Replace(s, `"https://${var.name}.gr7.${var.region}.eks.example.test"`, `"`+server.URL+`"`, 1)
			s = strings.Replace(s, `base64encode("-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n")`, `"`+base64.StdEncoding.EncodeToString(ca)+`"`, 1)
		}
		if err := os.WriteFile(filepath.Join(dst, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestUpEKSClusterSteps runs up's first steps for an EKS environment (state,
// cluster, kubeconfig) with the real terraform and the fake module whose
// outputs point at a local API server; then again, which changes nothing.
func TestUpEKSClusterSteps(t *testing.T) {
	skipIfShort(t)
	ctx := context.Background()
	apiServer := fakeAPIServer(t, "k8s-aws-v1.test-token")
	module := fakeEKSModuleFor(t, apiServer)
	dir := t.TempDir()
	file := filepath.Join(dir, "prod.hcl")
	src := `environment "prod" {
  cluster "eks" {
    region = "eu-west-1"
    tags   = { team = "platform" }
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  ephemeral { ttl = "2h" }
}`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	res := spec.Load(file, spec.Options{Home: dir, ConfigDir: dir})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	env := res.Env
	if err := env.Instance("pr7"); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, ".groundwork", env.Name)
	run := func() (*actions.Result, *up.Run, []string) {
		t.Helper()
		journal, err := actions.OpenJournal(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		var progress []string
		r, err := up.New(up.Options{Env: env, StateDir: stateDir, CacheDir: filepath.Join(dir, "cache", "charts"), Journal: journal})
		if err != nil {
			t.Fatal(err)
		}
		r.UseTerraform(up.TerraformOptions{
			Module:     os.DirFS(module),
			Find:       terraform.FindOptions{CacheDir: filepath.Join(dir, "cache"), Installer: noTerraformInstall{}},
			Progress:   func(l string) { progress = append(progress, l) },
			Kubeconfig: &remote.KubeconfigOptions{Token: &remote.Token{Value: "k8s-aws-v1.test-token"}},
		})
		steps := r.Steps()[:3] // state, cluster, kubeconfig
		res, err := (&actions.Runner{Command: "up", Journal: journal}).Run(ctx, steps)
		if err != nil {
			t.Fatalf("up: %v\nterraform:\n%s", err, strings.Join(progress, "\n"))
		}
		return res, r, progress
	}

	res1, r, progress := run()
	var states []string
	for _, s := range res1.Steps {
		states = append(states, s.Name+"="+string(s.State))
	}
	if got := strings.Join(states, " "); got != "state=unchanged cluster=done kubeconfig=unchanged" {
		t.Errorf("first run: %s", got)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "module.cluster.terraform_data.cluster: Creation complete") {
		t.Errorf("Terraform's progress was not streamed:\n%s", strings.Join(progress, "\n"))
	}
	if r.ServerVersion != "v1.34.2-eks-fake" || r.Kubeconfig != filepath.Join(stateDir, "kubeconfig") {
		t.Errorf("kubeconfig step: version %q, kubeconfig %q", r.ServerVersion, r.Kubeconfig)
	}
	if fi, err := os.Stat(r.Kubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %v, %v; want mode 0600", fi, err)
	}
	main, err := os.ReadFile(filepath.Join(stateDir, "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`source = "./modules/eks"`, `name               = "prod-pr7"`, `groundwork-environment = "prod-pr7"`, `groundwork-expires`, `team                   = "platform"`} {
		if !strings.Contains(string(main), want) {
			t.Errorf("main.tf lacks %q:\n%s", want, main)
		}
	}

	// Again: the expiry tag is the first run's, the plan is empty.
	res2, _, _ := run()
	for _, s := range res2.Steps {
		if s.State != actions.StateSkipped {
			t.Errorf("second run: step %s %s, want unchanged", s.Name, s.State)
		}
	}
}

// TestUpEKSOnHarness runs every step of up for an EKS environment whose
// "cloud" is the harness: the real terraform applies the fake module (same
// interface as modules/eks, terraform_data only), whose outputs point at the
// harness's control plane; the kubeconfig groundwork writes from them
// carries a token, as an EKS one does (here a ServiceAccount's). Flux is
// installed from the harness's chart repository, the repository seeded on
// its Git server, and up waits until Flux applied it. A second up changes
// nothing; down destroys through Terraform.
func TestUpEKSOnHarness(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	harness.StartKubelet(t, cp)
	charts := harness.StartChartRepo(t)
	charts.AddUpstream(t, harness.FluxChart)
	gitSrv := harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: "t0ken"})
	repoURL := gitSrv.CreateRepo(t, "fleet")

	// The "EKS" token: a cluster-admin ServiceAccount's.
	cs := cp.Client()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "groundwork-admin", Namespace: "kube-system"}}
	if _, err := cs.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "groundwork-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "groundwork-admin", Namespace: "kube-system"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secs := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, "groundwork-admin",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	module := t.TempDir()
	src := filepath.Join("..", "..", "internal", "cluster", "remote", "testdata", "fake-eks")
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if f == "outputs.tf" {
			s = strings.Replace(s, `"https://${var.name}.gr7.${var.region}.eks.example.test"`, `"`+cp.Server()+`"`, 1)
			s = strings.Replace(s, `base64encode("-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n")`, `"`+base64.StdEncoding.EncodeToString(cp.CAPEM())+`"`, 1)
		}
		if err := os.WriteFile(filepath.Join(module, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "prod.hcl")
	envSrc := `environment "prod" {
  cluster "eks" { region = "eu-west-1" }
  gitops {
    chart { repository = "` + charts.URL() + `" }
    repository {
      url  = "` + repoURL + `"
      auth { token_env = "GIT_TOKEN" }
    }
    sync {
      interval = "10m"
      timeout  = "3m"
    }
  }
  secrets {
    key_store "file" { path = "keys/prod.agekey" }
  }
}`
	if err := os.WriteFile(file, []byte(envSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	res := spec.Load(file, spec.Options{Home: dir, ConfigDir: dir})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	env := res.Env
	stateDir := filepath.Join(dir, ".groundwork", "prod")
	find := terraform.FindOptions{CacheDir: filepath.Join(dir, "cache"), Installer: noTerraformInstall{}}
	up1 := func() (*actions.Result, *up.Run) {
		t.Helper()
		journal, err := actions.OpenJournal(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := up.New(up.Options{Env: env, StateDir: stateDir, Environ: []string{"GIT_TOKEN=t0ken"}, CacheDir: filepath.Join(dir, "cache", "charts"), Journal: journal})
		if err != nil {
			t.Fatal(err)
		}
		r.UseTerraform(up.TerraformOptions{Module: os.DirFS(module), Find: find,
			Kubeconfig: &remote.KubeconfigOptions{Token: &remote.Token{Value: tr.Status.Token}}})
		res, err := (&actions.Runner{Command: "up", Journal: journal}).Run(ctx, r.Steps())
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		return res, r
	}
	res1, r := up1()
	if r.Revision == "" || r.ServerVersion == "" {
		t.Fatalf("up: revision %q, server %q", r.Revision, r.ServerVersion)
	}
	for _, s := range res1.Steps {
		if s.Name == "cluster" && s.State != actions.StateDone {
			t.Errorf("cluster step %s, want done (terraform apply)", s.State)
		}
	}
	res2, _ := up1()
	for _, s := range res2.Steps {
		if s.State != actions.StateSkipped {
			t.Errorf("second up: step %s %s, want unchanged", s.Name, s.State)
		}
	}
	if err := down.Run(ctx, down.Options{Env: env, StateDir: stateDir, Terraform: find, Module: os.DirFS(module)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "terraform")); !os.IsNotExist(err) {
		t.Errorf("the Terraform working directory is left after down (%v)", err)
	}
}
