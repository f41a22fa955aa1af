package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/down"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

type noTerraformInstall struct{}

func (noTerraformInstall) Install(context.Context, *version.Version, string) (string, error) {
	return "", errors.New("tests do not download terraform")
}

// TestTerraformKubernetesBackend keeps an EKS environment's Terraform state
// in the harness's control plane with Terraform's kubernetes backend: the
// real terraform, the environment's state block, and the fake module
// standing in for modules/eks (same interface, terraform_data only: no
// provider download, no AWS). The state survives into a second working
// directory (another machine), a lock held by another run is a clear
// error, and down destroys through it.
func TestTerraformKubernetesBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped because -short was given")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
	ctx := context.Background()
	cp := harness.StartControlPlane(t)
	cs := cp.Client()

	dir := t.TempDir()
	file := filepath.Join(dir, "prod.hcl")
	src := `environment "prod" {
  cluster "eks" { region = "eu-west-1" }
  state "kubernetes" {
    secret_suffix = "prod"
    namespace     = "kube-system"
    config_path   = "` + cp.AdminKubeconfig() + `"
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
	env := res.Env
	module := os.DirFS(filepath.Join("..", "..", "internal", "cluster", "remote", "testdata", "fake-eks"))
	find := terraform.FindOptions{CacheDir: t.TempDir(), Installer: noTerraformInstall{}}
	prepare := func(stateDir string) *terraform.Driver {
		t.Helper()
		d, err := remote.Prepare(ctx, env, remote.PrepareOptions{StateDir: stateDir, Module: module, Find: find})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	d := prepare(t.TempDir())
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "tfstate-default-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the state Secret: %v", err)
	}
	if len(sec.Data["tfstate"]) == 0 {
		t.Fatalf("the state Secret holds no state: %v", sec.Data)
	}

	// Another machine, another working directory: same state, no change.
	other := t.TempDir()
	d2 := prepare(other)
	sum, err := d2.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Empty() {
		t.Fatalf("plan from a second working directory: %+v, want no change", sum)
	}

	// Another run holds the lock: the backend's Lease (which it keeps
	// between runs, without a holder) names a holder.
	holder := "ci-runner-7"
	leases := cs.CoordinationV1().Leases("kube-system")
	lease, err := leases.Get(ctx, "lock-tfstate-default-prod", metav1.GetOptions{})
	if err != nil {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "lock-tfstate-default-prod", Namespace: "kube-system"}}
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations["app.terraform.io/lock-info"] = `{"ID":"` + holder + `","Operation":"OperationTypeApply","Who":"ci@runner-7","Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":""}`
	lease.Spec.HolderIdentity = &holder
	if lease.ResourceVersion == "" {
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
	} else {
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = d2.Plan(ctx, true)
	var le *terraform.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "Error acquiring the state lock") {
		t.Fatalf("plan with the state locked: %T %v, want a *LockedError", err, err)
	}
	if err := leases.Delete(ctx, "lock-tfstate-default-prod", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// down, from the second machine, destroys through the shared state.
	if err := down.Run(ctx, down.Options{Env: env, StateDir: other, Terraform: find, Module: module}); err != nil {
		t.Fatal(err)
	}
	sec, err = cs.CoreV1().Secrets("kube-system").Get(ctx, "tfstate-default-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := gunzip(t, sec.Data["tfstate"]); strings.Contains(st, "terraform_data") {
		t.Errorf("the state still holds resources after down:\n%s", st)
	}
}

// gunzip reads the kubernetes backend's state, which it stores gzipped.
func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return string(b) // stored uncompressed
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
