package down

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
