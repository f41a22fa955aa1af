package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/groundwork-dev/groundwork/internal/diag"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

var testOpts = Options{Home: "/home/user", ConfigDir: "/home/user/.config", Environ: []string{"GW_TEST_OWNER=ops", "GIT_TOKEN=x"}}

func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid-*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	abs, _ := filepath.Abs("testdata")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			res := Load(file, testOpts)
			if res.Diags.HasErrors() || res.Env == nil {
				t.Fatalf("unexpected diagnostics:\n%s", render(res))
			}
			b, err := json.MarshalIndent(res.Env, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.ReplaceAll(b, []byte(abs), []byte("<testdata>"))
			golden.Assert(t, strings.TrimSuffix(file, ".hcl")+".golden.json", append(b, '\n'))
		})
	}
}

func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			res := Load(file, testOpts)
			if !res.Diags.HasErrors() {
				t.Fatal("no error reported")
			}
			if res.Env != nil {
				t.Fatal("an invalid file must not yield an environment")
			}
			for _, d := range res.Diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no file:line:column", d.Summary)
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no detail saying how to fix it", d.Summary)
				}
			}
			golden.Assert(t, strings.TrimSuffix(file, ".hcl")+".golden", []byte(render(res)))
		})
	}
}

func render(res *Result) string {
	var buf bytes.Buffer
	if err := diag.WriteText(&buf, res.Files, res.Diags, 0, false); err != nil {
		panic(err)
	}
	return buf.String()
}

func TestMinimalFileMeansKindFluxSOPS(t *testing.T) {
	res := Load("testdata/valid-minimal.hcl", testOpts)
	env := res.Env
	if env == nil {
		t.Fatalf("diagnostics:\n%s", render(res))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"provider", env.Cluster.Provider, ProviderKind},
		{"nodes", len(env.Cluster.Kind.Nodes), 1},
		{"node role", env.Cluster.Kind.Nodes[0].Role, "control-plane"},
		{"engine", env.GitOps.Engine, EngineFlux},
		{"chart", env.GitOps.Chart, Chart{Repository: DefaultFluxChartRepo, Name: DefaultFluxChartName}},
		{"version", env.GitOps.Version, DefaultFluxChartVersion},
		{"namespace", env.GitOps.Namespace, "flux-system"},
		{"branch", env.GitOps.Repository.Branch, "main"},
		{"path", env.GitOps.Repository.Path, "clusters/dev"},
		{"secrets", env.Secrets.Provider, SecretsSOPS},
		{"key store", env.Secrets.KeyStore, KeyStore{Type: KeyStoreFile, Path: "/home/user/.config/groundwork/keys/dev.agekey"}},
		{"prune", env.GitOps.Sync.Prune, true},
		{"interval", env.GitOps.Sync.Interval, time.Minute},
		{"state", env.State == nil, true},
		{"ephemeral", env.Ephemeral == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestArgoCDDefaultsToSealedSecrets(t *testing.T) {
	src := `environment "a" {
  cluster "kind" {}
  gitops {
    engine = "argocd"
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`
	res := Parse("a.hcl", []byte(src), testOpts)
	if res.Env == nil {
		t.Fatalf("diagnostics:\n%s", render(res))
	}
	if res.Env.Secrets.Provider != SecretsSealedSecrets || res.Env.GitOps.Namespace != "argocd" || res.Env.GitOps.Chart.Name != DefaultArgoCDChartName {
		t.Fatalf("argocd defaults: %+v %+v", res.Env.Secrets, res.Env.GitOps)
	}
}

const precedenceSrc = `
variable "region" {
  type    = string
  default = "from-default"
}
variable "replicas" {
  type    = number
  default = 1
}
variable "zones" {
  type    = list(string)
  default = []
}
environment "p" {
  labels = {
    region   = var.region
    replicas = tostring(var.replicas)
    zones    = join(",", var.zones)
  }
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}
`

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "prod.hcl")
	os.WriteFile(varFile, []byte("region = \"from-file\"\nreplicas = 3\n"), 0o600)
	jsonFile := filepath.Join(dir, "more.json")
	os.WriteFile(jsonFile, []byte(`{"zones": ["a", "b"]}`), 0o600)

	cases := []struct {
		name string
		opts Options
		want map[string]string
	}{
		{"defaults", Options{}, map[string]string{"region": "from-default", "replicas": "1", "zones": ""}},
		{"environment", Options{Environ: []string{"GROUNDWORK_VAR_region=from-env", "GROUNDWORK_VAR_replicas=2"}},
			map[string]string{"region": "from-env", "replicas": "2"}},
		{"var file beats environment", Options{Environ: []string{"GROUNDWORK_VAR_region=from-env"}, VarFiles: []string{varFile, jsonFile}},
			map[string]string{"region": "from-file", "replicas": "3", "zones": "a,b"}},
		{"--var beats var file", Options{VarFiles: []string{varFile}, Vars: []string{"region=from-flag", `zones=["c"]`}},
			map[string]string{"region": "from-flag", "replicas": "3", "zones": "c"}},
		{"later --var wins", Options{Vars: []string{"region=first", "region=second"}}, map[string]string{"region": "second"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Parse("p.hcl", []byte(precedenceSrc), c.opts)
			if res.Env == nil {
				t.Fatalf("diagnostics:\n%s", render(res))
			}
			for k, want := range c.want {
				if got := res.Env.Labels[k]; got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestVariableOptionErrors(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "x.hcl")
	os.WriteFile(varFile, []byte("regoin = \"x\"\n"), 0o600)
	cases := []struct {
		name    string
		opts    Options
		summary string
		detail  string
		warning bool
	}{
		{"no equals", Options{Vars: []string{"region"}}, "Invalid --var option", "name=value", false},
		{"undeclared", Options{Vars: []string{"regoin=x"}}, "Value for undeclared variable", `Did you mean "region"?`, false},
		{"bad number", Options{Vars: []string{"replicas=many"}}, "Invalid value for variable", "number", false},
		{"bad list", Options{Vars: []string{"zones=[a"}}, "Invalid value for variable", `["a","b"]`, false},
		{"undeclared in var file", Options{VarFiles: []string{varFile}}, "Value for undeclared variable", `Did you mean "region"?`, true},
		{"missing var file", Options{VarFiles: []string{filepath.Join(dir, "nope.hcl")}}, "Cannot read file", "nope.hcl", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Parse("p.hcl", []byte(precedenceSrc), c.opts)
			var found *hcl.Diagnostic
			for _, d := range res.Diags {
				if d.Summary == c.summary {
					found = d
				}
			}
			if found == nil {
				t.Fatalf("no %q diagnostic in:\n%s", c.summary, render(res))
			}
			if !strings.Contains(found.Detail, c.detail) {
				t.Errorf("detail %q does not mention %q", found.Detail, c.detail)
			}
			if (found.Severity == hcl.DiagWarning) != c.warning {
				t.Errorf("severity %v, want warning=%v", found.Severity, c.warning)
			}
			if !c.warning && res.Env != nil {
				t.Error("an error must not yield an environment")
			}
		})
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2h": 2 * time.Hour, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("%s: got %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "2 hours", "1.5.d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q must not parse", in)
		}
	}
	if FormatDuration(2*time.Hour) != "2h" || FormatDuration(90*time.Minute) != "1h30m" || FormatDuration(90*time.Second) != "1m30s" {
		t.Error("FormatDuration")
	}
}

func TestGitTransport(t *testing.T) {
	good := map[string]string{
		"https://github.com/acme/fleet.git":   "https",
		"http://git.local/fleet":              "http",
		"ssh://git@github.com/acme/fleet.git": "ssh",
		"git@github.com:acme/fleet.git":       "ssh",
		"file:///srv/git/fleet.git":           "file",
	}
	for u, want := range good {
		if got, ok := gitTransport(u); !ok || got != want {
			t.Errorf("%s: got %q %v, want %q", u, got, ok, want)
		}
	}
	for _, u := range []string{"github.com/acme/fleet", "https://github.com", "ftp://x/y", "file:///", ""} {
		if _, ok := gitTransport(u); ok {
			t.Errorf("%q must be refused", u)
		}
	}
}

// TestExampleEnvironments keeps every example under environments/ valid.
func TestExampleEnvironments(t *testing.T) {
	files, _ := filepath.Glob("../../environments/*.hcl")
	if len(files) < 6 {
		t.Fatalf("want at least the six examples, found %d", len(files))
	}
	providers := map[string]bool{}
	ephemeral := false
	for _, file := range files {
		res := Load(file, Options{Home: "/home/user"})
		if len(res.Diags) > 0 {
			t.Errorf("%s:\n%s", file, render(res))
			continue
		}
		providers[res.Env.Cluster.Provider] = true
		ephemeral = ephemeral || res.Env.Ephemeral != nil
	}
	for _, p := range Providers {
		if !providers[p] {
			t.Errorf("no example uses the %s provider", p)
		}
	}
	if !ephemeral {
		t.Error("no ephemeral example")
	}
}

func TestExistingClusterKubeconfig(t *testing.T) {
	src := `environment "x" {
  cluster "existing" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`
	cases := []struct {
		environ []string
		want    string
	}{
		{nil, "/home/user/.kube/config"},
		{[]string{"KUBECONFIG=/etc/kube/a.yaml:/etc/kube/b.yaml"}, "/etc/kube/a.yaml"},
	}
	for _, c := range cases {
		res := Parse("/specs/x.hcl", []byte(src), Options{Home: "/home/user", Environ: c.environ})
		if res.Env == nil {
			t.Fatal(res.Diags)
		}
		if got := res.Env.Cluster.Existing.Kubeconfig; got != c.want {
			t.Errorf("KUBECONFIG=%v: got %s, want %s", c.environ, got, c.want)
		}
	}
	// An explicit kubeconfig is relative to the environment file.
	src = strings.Replace(src, `cluster "existing" {}`, `cluster "existing" { kubeconfig = "kube/config" }`, 1)
	res := Parse("/specs/x.hcl", []byte(src), Options{Home: "/home/user", Environ: []string{"KUBECONFIG=/etc/kube/a.yaml"}})
	if res.Env == nil || res.Env.Cluster.Existing.Kubeconfig != "/specs/kube/config" {
		t.Fatalf("explicit kubeconfig: %+v %v", res.Env, res.Diags)
	}
}

// TestAKSPoolNamesCollide: two AKS pools whose names are the same once cut
// as modules/aks cuts them (8 letters and digits for all but the system
// pool, since Azure/aks adds 4 random characters) are refused at their
// label.
func TestAKSPoolNamesCollide(t *testing.T) {
	src := func(a, b string) string {
		return `environment "payments" {
  cluster "aks" {
    location       = "westeurope"
    resource_group = "payments"
    node_pool "system" { vm_size = "Standard_D4s_v5" }
    node_pool "` + a + `" { vm_size = "Standard_D4s_v5" }
    node_pool "` + b + `" { vm_size = "Standard_D4s_v5" }
  }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
}
`
	}
	res := Parse("aks.hcl", []byte(src("workers-amd", "workers-arm")), Options{})
	var found bool
	for _, d := range res.Diags {
		if d.Summary == "AKS node pool names collide" {
			found = true
			if d.Subject == nil || d.Subject.Start.Line != 7 || !strings.Contains(d.Detail, `"workersa"`) {
				t.Errorf("diagnostic %s at %v", d.Detail, d.Subject)
			}
		}
	}
	if !found {
		t.Fatalf("workers-amd and workers-arm are both workersa on AKS: %v", res.Diags)
	}
	res = Parse("aks.hcl", []byte(src("amd", "arm")), Options{})
	for _, d := range res.Diags {
		if d.Summary == "AKS node pool names collide" {
			t.Errorf("distinct names refused: %s", d.Detail)
		}
	}
}
