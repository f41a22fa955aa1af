package remote

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// PrepareOptions configure Prepare.
type PrepareOptions struct {
	StateDir string
	// Expires is an ephemeral instance's expiry, tagged on its resources.
	Expires time.Time
	// Binary is the terraform to run; nil means terraform.Find.
	Binary *terraform.Binary
	// Find configures terraform.Find when Binary is nil.
	Find terraform.FindOptions
	// Module replaces the embedded modules/<provider> (a fork, a mirror;
	// tests use modules that need no cloud).
	Module fs.FS
	// Env, Progress and LockTimeout go to the driver.
	Env         map[string]string
	Progress    func(line string)
	LockTimeout time.Duration
}

// Prepare writes env's root module, module and backend configuration into
// the state directory, and initialises Terraform there in env's workspace.
func Prepare(ctx context.Context, env *spec.Environment, o PrepareOptions) (*terraform.Driver, error) {
	root, err := RootModule(env, ModuleOptions{Expires: o.Expires})
	if err != nil {
		return nil, err
	}
	be := Backend(env)
	if be != nil {
		if err := terraform.ValidateBackend(be); err != nil {
			return nil, fmt.Errorf("state block: %w", err)
		}
	}
	bin := o.Binary
	if bin == nil {
		if bin, err = terraform.Find(ctx, o.Find); err != nil {
			return nil, err
		}
	}
	dir := facts.Terraform(o.StateDir)
	d, err := terraform.New(bin, terraform.Options{Dir: dir, Env: o.Env, Progress: o.Progress, LockTimeout: o.LockTimeout})
	if err != nil {
		return nil, err
	}
	if err := Stage(dir, env.Cluster.Provider, o.Module); err != nil {
		return nil, fmt.Errorf("stage modules/%s: %w", env.Cluster.Provider, err)
	}
	if _, err := d.WriteFiles(root.Render(), terraform.RenderBackendConfig(be)); err != nil {
		return nil, err
	}
	if err := d.Init(ctx); err != nil {
		return nil, err
	}
	if err := d.SelectWorkspace(ctx, Workspace(env)); err != nil {
		return nil, err
	}
	return d, nil
}
