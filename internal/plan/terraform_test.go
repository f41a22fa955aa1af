package plan

import (
	"bytes"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

// TestTerraformSummary renders plan --terraform's summary of the cluster
// step, and checks that it decides whether the cluster step is pending.
func TestTerraformSummary(t *testing.T) {
	env := load(t, "../../environments/eks.hcl")
	env.File = "environments/eks.hcl"
	p := Build(env, Options{StateDir: "/state/" + env.Name})
	p.Terraform = &terraform.Summary{Add: 2, Change: 1, Destroy: 1, Changes: []terraform.Change{
		{Address: "module.cluster.module.eks.aws_eks_cluster.this[0]", Actions: []string{"create"}},
		{Address: "module.cluster.module.vpc.aws_vpc.this[0]", Actions: []string{"update"}},
		{Address: "module.cluster.aws_iam_role.external_secrets[0]", Actions: []string{"delete", "create"}},
	}}
	var text, js bytes.Buffer
	if err := p.WriteText(&text, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteJSON(&js, nil); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/eks-terraform.plan.golden", text.Bytes())
	golden.Assert(t, "testdata/eks-terraform.plan.golden.json", js.Bytes())

	// A journal recording every step done: Terraform's changes still make
	// the cluster step pending, and its empty plan makes it done even
	// when the journal does not say so.
	j := &actions.Journal{Steps: map[string]actions.StepRecord{}}
	for _, d := range p.Steps {
		j.Steps[d.Name] = actions.StepRecord{State: actions.StateDone, Fingerprint: d.Fingerprint}
	}
	if got := names(p.Pending(j)); got != StepCluster {
		t.Errorf("pending with Terraform changes = %q, want cluster", got)
	}
	p.Terraform = &terraform.Summary{}
	if got := names(p.Pending(nil)); got != "state,kubeconfig,reconciler,secrets,seed,sync,wait" {
		t.Errorf("pending without a journal, Terraform has no changes = %q", got)
	}
}
