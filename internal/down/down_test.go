package down

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"

	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

type noInstall struct{}

func (noInstall) Install(context.Context, *version.Version, string) (string, error) {
	return "", errors.New("tests do not download terraform")
}

// TestDownDestroysThroughTerraform brings up an EKS environment's
// Terraform resources with the fake module (modules/eks's interface over
// terraform_data; see internal/cluster/remote) and the real terraform, then
// runs down.
func TestDownDestroysThroughTerraform(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
	ctx := context.Background()
	home := t.TempDir()
	res := spec.Load(filepath.Join("..", "..", "environments", "eks.hcl"), spec.Options{Home: home, ConfigDir: home})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	env := res.Env
	env.State = nil
	stateDir := t.TempDir()
	module := os.DirFS(filepath.Join("..", "cluster", "remote", "testdata", "fake-eks"))
	find := terraform.FindOptions{CacheDir: t.TempDir(), Installer: noInstall{}}
	d, err := remote.Prepare(ctx, env, remote.PrepareOptions{StateDir: stateDir, Module: module, Find: find})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "kubeconfig"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	var logged []string
	o := Options{Env: env, StateDir: stateDir, Terraform: find, Module: module,
		Logf: func(f string, a ...any) { logged = append(logged, strings.TrimSpace(sprintf(f, a...))) }}
	if !Destructive(o) {
		t.Error("down of an EKS cluster is not marked destructive")
	}
	if p := strings.Join(Plan(o), "\n"); !strings.Contains(p, `destroy the EKS cluster "prod-eu"`) || !strings.Contains(p, "terraform destroy") {
		t.Errorf("plan:\n%s", p)
	}
	if err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(logged, "\n")
	for _, want := range []string{"terraform destroy: 2 resource(s)", "Destruction complete", "destroyed the eks cluster prod-eu"} {
		if !strings.Contains(all, want) {
			t.Errorf("down did not say %q:\n%s", want, all)
		}
	}
	for _, gone := range []string{"terraform", "kubeconfig"} {
		if _, err := os.Stat(filepath.Join(stateDir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still in the state directory (%v)", gone, err)
		}
	}
	// Down again: nothing left, nothing to destroy, no error.
	logged = nil
	if err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(logged, "\n"); !strings.Contains(all, "holds nothing to destroy") {
		t.Errorf("second down said:\n%s", all)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// TestPlanNamesTheEngineAndTheKeys: what down says it will do names the
// environment's engine and what it syncs by, and the keys it keeps, for
// Argo CD with Sealed Secrets as for Flux with SOPS.
func TestPlanNamesTheEngineAndTheKeys(t *testing.T) {
	for _, c := range []struct {
		engine, provider string
		want, not        []string
	}{
		{spec.EngineFlux, spec.SecretsSOPS, []string{"uninstall Flux (Helm release flux-system/flux2, its Kustomizations", "the age key stays in its key store"}, []string{"Application", "sealing"}},
		{spec.EngineArgoCD, spec.SecretsSealedSecrets, []string{"uninstall Argo CD (Helm release argocd/argo-cd, its Applications", "the sealing keys stay in their key store"}, []string{"Kustomization", "age key"}},
	} {
		env := &spec.Environment{Name: "dev", Cluster: spec.Cluster{Provider: spec.ProviderExisting},
			GitOps:  spec.GitOps{Engine: c.engine, Namespace: map[string]string{spec.EngineFlux: "flux-system", spec.EngineArgoCD: "argocd"}[c.engine]},
			Secrets: spec.Secrets{Provider: c.provider}}
		env.GitOps.Chart.Name = map[string]string{spec.EngineFlux: "flux2", spec.EngineArgoCD: "argo-cd"}[c.engine]
		text := strings.Join(Plan(Options{Env: env, StateDir: "/state", Uninstall: true}), "\n")
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s/%s: down's plan does not say %q:\n%s", c.engine, c.provider, w, text)
			}
		}
		for _, n := range c.not {
			if strings.Contains(text, n) {
				t.Errorf("%s/%s: down's plan says %q:\n%s", c.engine, c.provider, n, text)
			}
		}
	}
}
