package deploy

import (
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

// Behaviour, racing deploys included, is proven on the harness (tests/e2e).
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdDeploy(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"prod.hcl", "--image", "a=r/a:1", "--image", "b=r/b:2", "--wait", "--message", "ship"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "prod.hcl" || strings.Join(got.Images, " ") != "a=r/a:1 b=r/b:2" || !got.Wait || got.Message != "ship" {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdDeploy(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs([]string{"prod.hcl"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Errorf("no --image: exit %d", code)
	}
}
