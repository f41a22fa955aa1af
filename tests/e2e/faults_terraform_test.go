package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/internal/up"
)

// tfHelperEnv names the folder TestFaultsTerraformHelper works in.
const tfHelperEnv = "GROUNDWORK_TF_FAULT_DIR"

// TestFaultsTerraformHelper is not a test of its own: the fault suite runs
// the test binary again with GROUNDWORK_TF_FAULT_DIR set, as the process it
// kills in the middle of a Terraform apply. It is up's state, cluster and
// kubeconfig steps of an eks environment, under groundwork's lock, with the
// fake module (the groundwork binary cannot be handed a module: it applies
// modules/eks, which needs an AWS account, so the suite runs up's code in a
// process of its own instead). terraform is the real one.
func TestFaultsTerraformHelper(t *testing.T) {
	dir := os.Getenv(tfHelperEnv)
	if dir == "" {
		t.Skip("run by TestFaults")
	}
	ctx := context.Background()
	res := spec.Load(filepath.Join(dir, "prod.hcl"), spec.Options{Home: dir, ConfigDir: dir})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	stateDir := filepath.Join(dir, ".groundwork", res.Env.Name)
	lock, err := actions.AcquireLock(ctx, stateDir, fmt.Sprintf("pid %d, terraform fault helper", os.Getpid()), false)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	journal, err := actions.OpenJournal(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := up.New(up.Options{Env: res.Env, StateDir: stateDir, CacheDir: filepath.Join(dir, "cache", "charts"), Journal: journal})
	if err != nil {
		t.Fatal(err)
	}
	r.UseTerraform(up.TerraformOptions{
		Module:      os.DirFS(filepath.Join(dir, "module")),
		Find:        terraform.FindOptions{CacheDir: filepath.Join(dir, "cache"), Installer: noTerraformInstall{}},
		Progress:    func(l string) { fmt.Println("terraform:", l) },
		Kubeconfig:  &remote.KubeconfigOptions{Token: &remote.Token{Value: "k8s-aws-v1.test-token"}},
		LockTimeout: 2 * time.Minute,
	})
	out, err := (&actions.Runner{Command: "up", Journal: journal}).Run(ctx, r.Steps()[:3])
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	for _, s := range out.Steps {
		fmt.Printf("step %s=%s\n", s.Name, s.State)
	}
}

// terraformFaults kills up with SIGKILL in the middle of Terraform's
// apply, while a resource's provisioner runs. The terraform it runs dies
// with it (terraform-exec starts it with Pdeathsig on Linux), leaving its
// state lock's info file behind. The rerun must converge: groundwork's lock
// free, the journal whole, the cluster step done, the state holding the
// module's resources, and a further run finding nothing to do.
func terraformFaults(ctx context.Context, t *testing.T, table *faultTable) {
	for _, c := range []struct{ name string }{
		{"mid Terraform apply, its terraform dying with it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			apiServer := fakeAPIServer(t, "k8s-aws-v1.test-token")
			module := fakeEKSModuleFor(t, apiServer)
			if err := os.Rename(module, filepath.Join(dir, "module")); err != nil {
				t.Fatal(err)
			}
			applying := filepath.Join(dir, "applying")
			// A resource that takes a while to create, as a cloud
			// cluster does; the suite kills up once Terraform is at it.
			slow := fmt.Sprintf(`resource "terraform_data" "node_pool" {
  input = var.name
  provisioner "local-exec" {
    command = "touch '%s' && sleep 15"
  }
}
`, applying)
			if err := os.WriteFile(filepath.Join(dir, "module", "slow.tf"), []byte(slow), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "prod.hcl"), []byte(`environment "prod" {
  cluster "eks" { region = "eu-west-1" }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`), 0o644); err != nil {
				t.Fatal(err)
			}
			stateDir := filepath.Join(dir, ".groundwork", "prod")
			helper := func() *exec.Cmd {
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFaultsTerraformHelper$", "-test.v")
				cmd.Env = append(os.Environ(), tfHelperEnv+"="+dir)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				return cmd
			}
			first := helper()
			var firstOut strings.Builder
			first.Stdout, first.Stderr = &firstOut, &firstOut
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = first.Wait(); close(exited) }()
			waitFor(ctx, t, "Terraform applying the slow resource", func(context.Context) error {
				select {
				case <-exited:
					t.Fatalf("up ended before Terraform created the slow resource:\n%s", firstOut.String())
				default:
				}
				_, err := os.Stat(applying)
				return err
			})
			if err := syscall.Kill(first.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			(&faultWorld{stateDir: stateDir}).afterKill(t)
			start := time.Now()
			out, err := helper().CombinedOutput()
			outcome := "rerun converges"
			if err != nil || !strings.Contains(string(out), "step cluster=done") {
				t.Errorf("the rerun: %v\n%s\nthe killed run:\n%s", err, out, firstOut.String())
				outcome = "FAILED: the rerun did not finish the cluster step"
			}
			t.Logf("rerun after %s in %s:\n%s", c.name, time.Since(start).Round(time.Millisecond), out)
			again, err := helper().CombinedOutput()
			if err != nil || !strings.Contains(string(again), "step cluster=unchanged") {
				t.Errorf("a further run: %v\n%s", err, again)
				outcome = "FAILED: a further run still has changes"
			}
			st, err := exec.Command("terraform", "-chdir="+filepath.Join(stateDir, "terraform"), "show", "-json").Output()
			var show struct {
				Values struct {
					RootModule struct {
						ChildModules []struct {
							Resources []struct{ Address string } `json:"resources"`
						} `json:"child_modules"`
					} `json:"root_module"`
				} `json:"values"`
			}
			if err == nil {
				err = json.Unmarshal(st, &show)
			}
			n := 0
			for _, m := range show.Values.RootModule.ChildModules {
				n += len(m.Resources)
			}
			if err != nil || n != 2 {
				t.Errorf("terraform show: %v (%d resources, want the fake module's 2)", err, n)
				outcome = "FAILED: the state lacks resources"
			}
			j, err := actions.OpenJournal(stateDir)
			if err != nil || j.Run.Outcome != "succeeded" {
				t.Errorf("journal: %+v %v", j.Run, err)
			}
			table.add("SIGKILL: "+c.name, "up, eks cluster step (fake module, real terraform)", fmt.Sprintf("%s (the state Terraform saved as it went holds the module's %d resources; a further run is unchanged)", outcome, n))
		})
	}
}
