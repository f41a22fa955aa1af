package status

import (
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

// Behaviour on a cluster is proven on the harness (tests/e2e); the text
// and JSON writers are tested here on reports.
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdStatus(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/existing.hcl"})
	if err := cmd.Execute(); err != nil || got.File != "environments/existing.hcl" {
		t.Fatalf("options: %+v %v", got, err)
	}
	cmd = NewCmdStatus(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs([]string{"a.hcl", "b.hcl"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Errorf("two files: exit %d", code)
	}
}
