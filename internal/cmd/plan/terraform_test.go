package plan

import (
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestTerraformFlag(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdPlan(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/eks.hcl", "--terraform"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.Terraform {
		t.Fatalf("options: %+v", got)
	}
	// A kind cluster has no Terraform: a usage error, not a silent plan.
	f, s := cmdtest.NewFactory()
	err := Run(&Options{F: f, File: writeSpec(t), Terraform: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "only eks, gke and aks") {
		t.Fatalf("--terraform on kind: %v", err)
	}
	if s.Out.Len() != 0 {
		t.Errorf("printed a plan:\n%s", s.Out)
	}
}
