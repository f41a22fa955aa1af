package render

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func load(t *testing.T, file string) *spec.Environment {
	t.Helper()
	res := spec.Load(file, spec.Options{Home: "/home/user", ConfigDir: "/home/user/.config"})
	if res.Env == nil {
		t.Fatalf("%s: %v", file, res.Diags)
	}
	return res.Env
}

// TestRenderedRepositories renders the repository of the examples (gke is
// Argo CD's)
// against golden files, and checks every YAML file parses.
func TestRenderedRepositories(t *testing.T) {
	for _, name := range []string{"local", "existing", "eks", "ci-ephemeral", "gke"} {
		t.Run(name, func(t *testing.T) {
			env := load(t, filepath.Join("../../environments", name+".hcl"))
			files, err := Render(env, Options{AgeRecipient: recipient, CredentialsSecret: "flux-system"})
			if err != nil {
				t.Fatal(err)
			}
			var all bytes.Buffer
			for _, f := range files {
				if !strings.HasPrefix(f.Path, env.GitOps.Repository.Path+"/") {
					t.Errorf("%s lies outside the environment's path %s", f.Path, env.GitOps.Repository.Path)
				}
				for i, doc := range strings.Split(string(f.Data), "\n---\n") {
					if !strings.HasSuffix(f.Path, ".yaml") {
						break
					}
					var v map[string]any
					if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
						t.Errorf("%s document %d is not YAML: %v\n%s", f.Path, i, err, doc)
					}
				}
				fmt.Fprintf(&all, "==> %s (seed only: %t)\n%s", f.Path, f.SeedOnly, f.Data)
			}
			golden.Assert(t, "testdata/"+name+".golden", all.Bytes())
		})
	}
}

func TestAddonValuesAndDependencies(t *testing.T) {
	env := load(t, "../../environments/existing.hcl")
	files, err := Render(env, Options{AgeRecipient: recipient})
	if err != nil {
		t.Fatal(err)
	}
	var dns []byte
	for _, f := range files {
		if strings.HasSuffix(f.Path, "infrastructure/external-dns.yaml") {
			dns = f.Data
		}
	}
	docs := strings.Split(string(dns), "\n---\n")
	var hr struct {
		Kind string
		Spec struct {
			TargetNamespace string                  `json:"targetNamespace"`
			DependsOn       []struct{ Name string } `json:"dependsOn"`
			Chart           struct {
				Spec struct{ Version string }
			}
		}
	}
	if err := yaml.Unmarshal([]byte(docs[len(docs)-1]), &hr); err != nil {
		t.Fatal(err)
	}
	if hr.Kind != "HelmRelease" || hr.Spec.TargetNamespace != "external-dns" || len(hr.Spec.DependsOn) != 1 ||
		hr.Spec.DependsOn[0].Name != "cert-manager" || hr.Spec.Chart.Spec.Version != "1.15.0" {
		t.Fatalf("HelmRelease: %+v", hr)
	}
}

func TestNoSOPSWithoutSOPS(t *testing.T) {
	env := load(t, "../../environments/eks.hcl") // external-secrets
	files, err := Render(env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".sops.yaml") || bytes.Contains(f.Data, []byte("sops-age")) {
			t.Errorf("%s refers to SOPS, which this environment does not use", f.Path)
		}
	}
	env = load(t, "../../environments/local.hcl")
	if _, err := Render(env, Options{}); err == nil {
		t.Error("a SOPS environment without a recipient must be refused")
	}
}

func TestOutputPath(t *testing.T) {
	for in, want := range map[string]string{"dot-sops.yaml.tmpl": ".sops.yaml", "apps/kustomization.yaml.once.tmpl": "apps/kustomization.yaml", "a/b.yaml.tmpl": "a/b.yaml"} {
		got, _ := outputPath(in)
		if got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if _, seed := outputPath("apps/kustomization.yaml.once.tmpl"); !seed {
		t.Error(".once must mark a seed file")
	}
}

func TestAddonNameCollision(t *testing.T) {
	env := load(t, "../../environments/existing.hcl")
	env.Addons[0].Name = "kustomization"
	if _, err := Render(env, Options{AgeRecipient: recipient}); err == nil || !strings.Contains(err.Error(), "kustomization.yaml") {
		t.Fatalf("want a collision error, got %v", err)
	}
}

// TestArgoCDAddons renders the addons of the existing example as Argo CD
// Applications: Helm sources, values, namespaces, sync waves from
// depends_on.
func TestArgoCDAddons(t *testing.T) {
	env := load(t, "../../environments/existing.hcl")
	env.GitOps.Engine, env.GitOps.Namespace = spec.EngineArgoCD, "argocd"
	env.GitOps.Chart = spec.Chart{Repository: spec.DefaultArgoCDChartRepo, Name: spec.DefaultArgoCDChartName}
	env.GitOps.Version = spec.DefaultArgoCDChartVersion
	env.Secrets.Provider = spec.SecretsSealedSecrets
	files, err := Render(env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, f := range files {
		if strings.Contains(f.Path, "/applications/") && f.Path != env.GitOps.Repository.Path+"/applications/apps.yaml" &&
			f.Path != env.GitOps.Repository.Path+"/applications/project.yaml" {
			var app struct {
				Kind string
				Spec struct {
					Source struct{ RepoURL, Chart, Path string }
				}
			}
			if err := yaml.Unmarshal(f.Data, &app); err != nil || app.Kind != "Application" || app.Spec.Source.RepoURL == "" {
				t.Errorf("%s is not an Application with a source: %v %+v", f.Path, err, app)
			}
		}
		fmt.Fprintf(&all, "==> %s (seed only: %t)\n%s", f.Path, f.SeedOnly, f.Data)
	}
	golden.Assert(t, "testdata/argocd-addons.golden", all.Bytes())
}

// TestArgoCDSyncPolicy renders an Argo CD environment with manual sync and
// sync windows: no Application is automated, and the windows are on the
// environment's AppProject, which every Application belongs to.
func TestArgoCDSyncPolicy(t *testing.T) {
	env := load(t, "../spec/testdata/valid-argocd-sync-policy.hcl")
	files, err := Render(env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, f := range files {
		if strings.Contains(string(f.Data), "automated") && !strings.Contains(string(f.Data), "automated:\n") ||
			strings.Contains(string(f.Data), "selfHeal") {
			t.Errorf("%s is automated although the spec asks for manual sync", f.Path)
		}
		if strings.HasSuffix(f.Path, ".yaml") {
			var v map[string]any
			if err := yaml.Unmarshal(f.Data, &v); err != nil {
				t.Errorf("%s is not YAML: %v", f.Path, err)
			}
			if spec, _ := v["spec"].(map[string]any); v["kind"] == "Application" {
				if spec["project"] != env.Name {
					t.Errorf("%s: project %v, want %s", f.Path, spec["project"], env.Name)
				}
				// A null syncPolicy is refused by the CRD; automated
				// sync is off with enabled: false.
				sp, _ := spec["syncPolicy"].(map[string]any)
				auto, _ := sp["automated"].(map[string]any)
				if auto["enabled"] != false {
					t.Errorf("%s: syncPolicy %v, want automated.enabled false", f.Path, spec["syncPolicy"])
				}
			}
		}
		fmt.Fprintf(&all, "==> %s (seed only: %t)\n%s", f.Path, f.SeedOnly, f.Data)
	}
	golden.Assert(t, "testdata/argocd-sync-policy.golden", all.Bytes())
}
