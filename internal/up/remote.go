package up

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/awsauth"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// The steps of a cloud cluster (eks, gke, aks): state, cluster and
// kubeconfig go through Terraform and the modules under modules/.

// TerraformOptions tune how a run drives Terraform.
type TerraformOptions struct {
	// Progress gets Terraform's progress lines; nil means Logf.
	Progress func(line string)
	// Find configures finding (or installing) terraform; its CacheDir
	// defaults to the parent of Options.CacheDir.
	Find terraform.FindOptions
	// Module replaces the embedded modules/<provider> (a fork; tests use
	// modules that need no cloud).
	Module fs.FS
	// Kubeconfig replaces how the kubeconfig authenticates (nil: the aws
	// CLI's exec plugin, or a presigned token without it, on EKS).
	Kubeconfig *remote.KubeconfigOptions
	// LockTimeout is how long Terraform waits for the state's lock, which
	// another terraform on the same state holds while it runs (0: fail at
	// once).
	LockTimeout time.Duration
}

// UseTerraform sets how the run drives Terraform.
func (r *Run) UseTerraform(o TerraformOptions) { r.tf = o }

func (r *Run) tfOptions() TerraformOptions {
	to := r.tf
	if to.Progress == nil {
		to.Progress = func(line string) { r.opts.Logf("terraform: %s", line) }
	}
	if to.Find.CacheDir == "" {
		to.Find.CacheDir = filepath.Dir(r.opts.CacheDir)
	}
	if to.Find.Logf == nil {
		to.Find.Logf = r.opts.Logf
	}
	return to
}

// checkState: only an s3 bucket with create = true is groundwork's to make;
// every other backend's storage must exist, which terraform init checks.
func (r *Run) checkState(ctx context.Context) (actions.Status, error) {
	st := r.env().State
	switch {
	case st == nil:
		return actions.Status{Done: true, Reason: "local Terraform state in " + facts.Terraform(r.opts.StateDir)}, nil
	case !st.Create:
		return actions.Status{Done: true, Reason: "Terraform backend " + st.Backend + ", storage managed by you"}, nil
	}
	return actions.Status{}, nil
}

func (r *Run) applyState(ctx context.Context) error {
	st := r.env().State
	c, err := terraform.NewS3Client(ctx, terraform.S3ClientOptions{Region: st.Config["region"], Endpoint: st.Config["endpoint"],
		PathStyle: st.Config["use_path_style"] == "true" || st.Config["force_path_style"] == "true"})
	if err != nil {
		return err
	}
	created, err := terraform.EnsureS3Bucket(ctx, c, st.Config["bucket"], st.Config["region"])
	if err != nil {
		return err
	}
	if !created {
		return actions.NoChange
	}
	r.opts.Logf("created the state bucket %s in %s (versioning, encryption, public access blocked)", st.Config["bucket"], st.Config["region"])
	return nil
}

// remoteDriver returns a driver of the environment's working directory;
// prepare (re)writes the root module and runs terraform init first.
func (r *Run) remoteDriver(ctx context.Context, prepare bool) (*terraform.Driver, error) {
	to := r.tfOptions()
	if prepare {
		return remote.Prepare(ctx, r.env(), remote.PrepareOptions{StateDir: r.opts.StateDir, Expires: r.instanceExpires(),
			Find: to.Find, Progress: to.Progress, Module: to.Module, LockTimeout: to.LockTimeout})
	}
	bin, err := terraform.Find(ctx, to.Find)
	if err != nil {
		return nil, err
	}
	return terraform.New(bin, terraform.Options{Dir: facts.Terraform(r.opts.StateDir), Progress: to.Progress, LockTimeout: to.LockTimeout})
}

// checkRemoteCluster renders the root module, initialises Terraform and
// plans: the cluster step is done when the plan is empty. The plan is
// saved for applyRemoteCluster, which applies exactly it.
func (r *Run) checkRemoteCluster(ctx context.Context) (actions.Status, error) {
	d, err := r.remoteDriver(ctx, true)
	if err != nil {
		return actions.Status{}, err
	}
	r.opts.Logf("terraform: %s, working directory %s", d.Binary(), d.Dir)
	sum, err := d.Plan(ctx, false)
	if err != nil {
		return actions.Status{}, err
	}
	if sum.Empty() {
		return actions.Status{Done: true, Reason: "Terraform: no changes"}, nil
	}
	r.opts.Logf("terraform plan: %s", sum)
	for _, c := range sum.Changes {
		r.opts.Logf("  %s %s", strings.Join(c.Actions, ","), c.Address)
	}
	return actions.Status{}, nil
}

func (r *Run) applyRemoteCluster(ctx context.Context) error {
	d, err := r.remoteDriver(ctx, false)
	if err != nil {
		return err
	}
	return d.Apply(ctx)
}

// writeRemoteKubeconfig writes the kubeconfig of the cluster Terraform
// made, from the module's outputs, into the state directory (0600).
func (r *Run) writeRemoteKubeconfig(ctx context.Context) error {
	d, err := r.remoteDriver(ctx, false)
	if err != nil {
		return err
	}
	raw, err := d.Output(ctx)
	if err != nil {
		return err
	}
	out, err := remote.DecodeOutputs(r.env().Cluster.Provider, raw)
	if err != nil {
		return fmt.Errorf("the outputs of modules/%s: %w", r.env().Cluster.Provider, err)
	}
	ko, err := r.kubeconfigOptions(ctx, out)
	if err != nil {
		return err
	}
	cfg, err := remote.Kubeconfig(out, ko)
	if err != nil {
		return err
	}
	path, _ := facts.Kubeconfig(r.env(), r.opts.StateDir)
	if err := remote.WriteKubeconfig(path, cfg); err != nil {
		return err
	}
	r.output(plan.StepCluster, "name", out.ClusterName)
	if out.ExternalSecretsIdentity != "" {
		r.output(plan.StepCluster, "external_secrets_identity", out.ExternalSecretsIdentity)
	}
	if t := out.Expires(); !t.IsZero() {
		r.output(plan.StepCluster, "expires_tag", strconv.FormatInt(t.Unix(), 10))
	}
	return nil
}

// kubeconfigOptions says how a cloud cluster's kubeconfig authenticates:
// on EKS through the aws CLI's exec plugin, or, without the aws CLI, a token
// groundwork presigns itself.
func (r *Run) kubeconfigOptions(ctx context.Context, out *remote.Outputs) (remote.KubeconfigOptions, error) {
	var ko remote.KubeconfigOptions
	if k := r.tfOptions().Kubeconfig; k != nil {
		return *k, nil
	}
	if out.Provider != spec.ProviderEKS {
		return ko, nil
	}
	if _, err := exec.LookPath("aws"); err == nil {
		ko.AWSProfile = os.Getenv("AWS_PROFILE")
		return ko, nil
	}
	tok, err := eksToken(ctx, out)
	if err != nil {
		return ko, err
	}
	ko.Token = tok
	r.opts.Logf("the aws CLI is not on PATH: the kubeconfig holds a token valid until %s; groundwork writes a new one on every run", tok.Expiry.Format(time.Kitchen))
	return ko, nil
}

// adoptEKS writes the kubeconfig of the EKS cluster an existing cluster
// names (eks { name, region }), from DescribeCluster with the default AWS
// credential chain: groundwork uses it, Terraform does not own it, and down
// never destroys it.
func (r *Run) adoptEKS(ctx context.Context) error {
	a := r.env().Cluster.Existing.EKS
	cfg, err := awsauth.Config(ctx, a.Region, "EKS cluster "+a.Name)
	if err != nil {
		return err
	}
	ko, err := r.kubeconfigOptions(ctx, &remote.Outputs{Provider: spec.ProviderEKS, ClusterName: a.Name, Region: a.Region})
	if err != nil {
		return err
	}
	path, _ := facts.Kubeconfig(r.env(), r.opts.StateDir)
	out, err := remote.AdoptEKS(ctx, eks.NewFromConfig(cfg), a.Name, a.Region, path, ko)
	if err != nil {
		return err
	}
	r.output(plan.StepKubeconfig, "eks_cluster", out.ClusterName)
	return nil
}

// eksToken presigns an EKS token with the default AWS credential chain.
func eksToken(ctx context.Context, out *remote.Outputs) (*remote.Token, error) {
	cfg, err := awsauth.Config(ctx, out.Region, "the token of EKS cluster "+out.ClusterName)
	if err != nil {
		return nil, err
	}
	return remote.EKSToken(ctx, sts.NewPresignClient(sts.NewFromConfig(cfg)), out.ClusterName, time.Now())
}
