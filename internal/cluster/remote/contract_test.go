package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

var repoRoot = filepath.Join("..", "..", "..")

// loadExample loads environments/<name>.hcl as the CLI does.
func loadExample(t *testing.T, name string) *spec.Environment {
	t.Helper()
	home := t.TempDir()
	res := spec.Load(filepath.Join(repoRoot, "environments", name+".hcl"), spec.Options{Home: home, ConfigDir: home, Environ: []string{"GITHUB_TOKEN=x"}})
	if res.Diags.HasErrors() {
		t.Fatalf("%s: %v", name, res.Diags)
	}
	return res.Env
}

func loadModule(t *testing.T, provider string) *tfconfig.Module {
	t.Helper()
	m, diags := tfconfig.LoadModule(filepath.Join(repoRoot, "modules", provider))
	if diags.HasErrors() {
		t.Fatalf("modules/%s: %v", provider, diags)
	}
	return m
}

// TestModuleContract checks that what the Go code passes to each module
// and reads from it matches the module's variables and outputs, and that
// the module's README documents every one of them.
func TestModuleContract(t *testing.T) {
	for _, p := range []string{spec.ProviderEKS, spec.ProviderGKE, spec.ProviderAKS} {
		t.Run(p, func(t *testing.T) {
			mod := loadModule(t, p)
			env := loadExample(t, p)
			// The external-secrets identity input too, whatever the
			// example's secrets provider.
			env.Secrets.Provider, env.Secrets.Namespace = spec.SecretsExternalSecrets, "external-secrets"
			root, err := RootModule(env, ModuleOptions{Expires: time.Unix(1767225600, 0)})
			if err != nil {
				t.Fatal(err)
			}
			for name := range root.Inputs {
				if _, ok := mod.Variables[name]; !ok {
					t.Errorf("groundwork passes %q, which modules/%s does not declare", name, p)
				}
			}
			for name, v := range mod.Variables {
				if _, ok := root.Inputs[name]; v.Required && !ok {
					t.Errorf("modules/%s requires %q, which groundwork does not pass", p, name)
				}
			}
			for _, o := range root.Outputs {
				mo, ok := mod.Outputs[o.Name]
				if !ok {
					t.Errorf("groundwork reads output %q, which modules/%s does not declare", o.Name, p)
					continue
				}
				if mo.Sensitive && !o.Sensitive {
					t.Errorf("output %q is sensitive in modules/%s but not in the root module (terraform refuses that)", o.Name, p)
				}
			}
			readme, err := os.ReadFile(filepath.Join(repoRoot, "modules", p, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			for name := range mod.Variables {
				if !strings.Contains(string(readme), "| `"+name+"` |") {
					t.Errorf("modules/%s/README.md does not document input %q", p, name)
				}
			}
			for name := range mod.Outputs {
				if !strings.Contains(string(readme), "| `"+name+"` |") {
					t.Errorf("modules/%s/README.md does not document output %q", p, name)
				}
			}
			pinned := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
			for name, call := range mod.ModuleCalls {
				if !pinned.MatchString(call.Version) {
					t.Errorf("modules/%s: module %q is at version %q, not pinned to an exact version", p, name, call.Version)
				}
			}
			if len(mod.ModuleCalls) == 0 {
				t.Errorf("modules/%s calls no community module", p)
			}
			for _, v := range mod.Variables {
				if v.Description == "" {
					t.Errorf("modules/%s: variable %q has no description", p, v.Name)
				}
			}
			for _, o := range mod.Outputs {
				if o.Description == "" {
					t.Errorf("modules/%s: output %q has no description", p, o.Name)
				}
			}
		})
	}
}

// TestModulesFormatted runs terraform fmt -check over modules/.
func TestModulesFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH")
	}
	cmd := exec.CommandContext(context.Background(), tf, "fmt", "-check", "-recursive", "-diff", filepath.Join(repoRoot, "modules"))
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform fmt -check modules/: %v\n%s", err, out)
	}
}

// TestRootModuleGolden pins the root module and backend configuration
// groundwork renders for the example environments.
func TestRootModuleGolden(t *testing.T) {
	for _, p := range []string{spec.ProviderEKS, spec.ProviderGKE, spec.ProviderAKS} {
		t.Run(p, func(t *testing.T) {
			env := loadExample(t, p)
			root, err := RootModule(env, ModuleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", p+".main.tf.golden"), root.Render())
			golden.Assert(t, filepath.Join("testdata", p+".backend.golden"), renderBackend(env))
		})
	}
	t.Run("ephemeral", func(t *testing.T) {
		env := loadExample(t, spec.ProviderEKS)
		env.State = nil
		env.Ephemeral = &spec.Ephemeral{TTL: 2 * time.Hour}
		if err := env.Instance("run42"); err != nil {
			t.Fatal(err)
		}
		root, err := RootModule(env, ModuleOptions{Expires: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, filepath.Join("testdata", "eks-ephemeral.main.tf.golden"), root.Render())
		if Workspace(env) != "prod-eu-run42" {
			t.Errorf("workspace of the instance = %q", Workspace(env))
		}
	})
}
