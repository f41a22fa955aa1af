package down

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdDown(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl", "--uninstall", "--purge-repo"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "dev.hcl" || !got.Uninstall || !got.PurgeRepo {
		t.Fatalf("options: %+v", got)
	}
}

// Without --yes, down lists what it would delete and deletes nothing.
func TestAsksForYes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dev.hcl")
	os.WriteFile(file, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`), 0o644)
	f, s := cmdtest.NewFactory()
	err := Run(t.Context(), &Options{F: f, File: file, PurgeRepo: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("err %v", err)
	}
	for _, w := range []string{`delete the kind cluster "dev"`, "remove the environment's files under clusters/dev/ from https://github.com/acme/fleet.git (branch main)", "the age key stays"} {
		if !strings.Contains(s.ErrOut.String(), w) {
			t.Errorf("the list lacks %q:\n%s", w, s.ErrOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".groundwork")); err == nil {
		t.Error("down without --yes created state")
	}
}

// kindEnv writes a kind environment and, in its state directory, what a
// failed up leaves: a journal and the lock file.
func kindEnv(t *testing.T, cluster actions.StepState) (file, stateDir string) {
	dir := t.TempDir()
	file = filepath.Join(dir, "dev.hcl")
	os.WriteFile(file, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`), 0o644)
	stateDir = filepath.Join(dir, ".groundwork", "dev")
	lock, err := actions.AcquireLock(t.Context(), stateDir, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	lock.Release()
	j, _ := actions.OpenJournal(stateDir)
	j.Steps["cluster"] = actions.StepRecord{State: cluster, Error: "kind needs a container runtime"}
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	return file, stateDir
}

// TestDownAfterUpFailedForWantOfDocker: up failed at the cluster step
// because no container runtime runs; down then failed with the same error
// and left the state. The cluster never existed: down succeeds and removes
// groundwork's state, lock included (as kind delete cluster and terraform
// destroy do with what is not there).
func TestDownAfterUpFailedForWantOfDocker(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no docker, no podman
	file, stateDir := kindEnv(t, actions.StateFailed)
	f, s := cmdtest.NewFactory()
	f.Globals.Yes = true
	if err := Run(t.Context(), &Options{F: f, File: file}); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(stateDir)
		t.Errorf("state left behind: %v", entries)
	}
	if _, err := os.Stat(filepath.Dir(stateDir)); !os.IsNotExist(err) {
		t.Error("an empty .groundwork is left behind")
	}
	if !strings.Contains(s.ErrOut.String(), "no kind cluster dev to delete") {
		t.Errorf("stderr: %s", s.ErrOut)
	}
}

// TestDownNeedsTheRuntimeOfACluster: a cluster the journal says up made
// cannot be dropped for want of Docker; down says so and keeps the state.
func TestDownNeedsTheRuntimeOfACluster(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	file, stateDir := kindEnv(t, actions.StateDone)
	f, _ := cmdtest.NewFactory()
	f.Globals.Yes = true
	err := Run(t.Context(), &Options{F: f, File: file})
	if err == nil || !strings.Contains(err.Error(), "container runtime") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, actions.JournalFile)); err != nil {
		t.Errorf("the journal is gone: %v", err)
	}
}

// TestDownRemembersAClusterAnEarlierUpMade: an up made the kind cluster,
// Docker stopped, and a second up failed at the cluster step (the journal
// keeps that failure as the step's record). The kubeconfig step's record
// and the kubeconfig file still say a cluster exists: down refuses for want
// of Docker and keeps the state, rather than forget the cluster.
func TestDownRemembersAClusterAnEarlierUpMade(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	file, stateDir := kindEnv(t, actions.StateFailed)
	j, _ := actions.OpenJournal(stateDir)
	j.Steps["kubeconfig"] = actions.StepRecord{State: actions.StateDone}
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	f, _ := cmdtest.NewFactory()
	f.Globals.Yes = true
	err := Run(t.Context(), &Options{F: f, File: file})
	if err == nil || !strings.Contains(err.Error(), "container runtime") {
		t.Fatalf("down forgot the cluster an earlier up made: %v", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, actions.JournalFile)); err != nil {
		t.Errorf("the journal is gone: %v", err)
	}
}
