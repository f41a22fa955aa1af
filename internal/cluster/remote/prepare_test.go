package remote

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// fakeEKSModule is testdata/fake-eks: modules/eks's interface over
// terraform_data, for tests that run the real terraform without AWS.
var fakeEKSModule = filepath.Join("testdata", "fake-eks")

type noInstall struct{}

func (noInstall) Install(context.Context, *version.Version, string) (string, error) {
	return "", errors.New("tests do not download terraform")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFakeModuleMatches keeps the fake module's interface that of
// modules/eks, so that tests through it say something about the real one.
func TestFakeModuleMatches(t *testing.T) {
	real := loadModule(t, spec.ProviderEKS)
	fake, diags := tfconfig.LoadModule(fakeEKSModule)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if a, b := strings.Join(keys(real.Variables), ","), strings.Join(keys(fake.Variables), ","); a != b {
		t.Errorf("variables: modules/eks %s, fake %s", a, b)
	}
	if a, b := strings.Join(keys(real.Outputs), ","), strings.Join(keys(fake.Outputs), ","); a != b {
		t.Errorf("outputs: modules/eks %s, fake %s", a, b)
	}
}

func TestPrepareApplyOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
	ctx := context.Background()
	env := loadExample(t, spec.ProviderEKS)
	env.State = nil // local state in the state directory
	env.Ephemeral = &spec.Ephemeral{TTL: time.Hour}
	if err := env.Instance("run7"); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	expires := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	var progress []string
	o := PrepareOptions{StateDir: stateDir, Expires: expires, Module: os.DirFS(fakeEKSModule),
		Find: terraform.FindOptions{CacheDir: t.TempDir(), Installer: noInstall{}}, Progress: func(l string) { progress = append(progress, l) }}
	d, err := Prepare(ctx, env, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := d.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Add != 2 {
		t.Fatalf("plan %+v, want the cluster and the external-secrets role", sum)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeOutputs(spec.ProviderEKS, raw)
	if err != nil {
		t.Fatal(err)
	}
	if out.ClusterName != "prod-eu-run7" || out.Region != "eu-west-1" || out.Endpoint != "https://prod-eu-run7.gr7.eu-west-1.eks.example.test" ||
		!strings.HasPrefix(string(out.CAData), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("outputs %+v", out)
	}
	if out.ExternalSecretsIdentity != "arn:aws:iam::123456789012:role/prod-eu-run7-external-secrets" {
		t.Errorf("external secrets identity %q", out.ExternalSecretsIdentity)
	}
	if out.Tags[TagEnvironment] != "prod-eu-run7" || out.Tags["owner"] != "platform" || !out.Expires().Equal(expires) {
		t.Errorf("tags %v (expires %s)", out.Tags, out.Expires())
	}
	// The instance has its own workspace, so instances sharing a state
	// block never share a state.
	if ws, err := os.ReadFile(filepath.Join(facts.Terraform(stateDir), ".terraform", "environment")); err != nil || string(ws) != "prod-eu-run7" {
		t.Errorf("workspace %q, %v", ws, err)
	}
	if fi, err := os.Stat(facts.Terraform(stateDir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("working directory (plan files, local state): %v, %v; want mode 0700", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(facts.Terraform(stateDir), terraform.BackendConfigFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backend configuration file: %v, %v; want mode 0600", fi, err)
	}
	// The next run renders the same files and finds nothing to do.
	d, err = Prepare(ctx, env, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := d.Plan(ctx, false); err != nil || !sum.Empty() {
		t.Fatalf("second plan %+v, %v; want no change", sum, err)
	}
	// A node pool resized is an update in place, nothing replaced.
	env.Cluster.EKS.NodePools[0].DesiredSize++
	d, err = Prepare(ctx, env, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := d.Plan(ctx, false); err != nil || sum.Change != 1 || sum.Add+sum.Destroy != 0 {
		t.Fatalf("plan after resizing %+v, %v; want 1 change", sum, err)
	}
}
