package up

import (
	"context"
	"errors"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/seed"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// --- seed -----------------------------------------------------------------------

// Render renders the environment's repository files (creating the age key
// of a SOPS environment that has none).
func (r *Run) Render(ctx context.Context) ([]render.File, error) {
	if r.env().Secrets.Provider == spec.SecretsSOPS {
		if err := r.ensureIdentity(ctx); err != nil {
			return nil, err
		}
	}
	return r.seed.Render(ctx)
}

// Git returns the client of the environment's repository.
func (r *Run) Git() (*gitrepo.Client, error) { return r.seed.Git() }

// CheckRepository reads the repository and works out what the seed step
// will do to it (see seed.Seeder.Check).
func (r *Run) CheckRepository(ctx context.Context) (*seed.Check, error) {
	c, err := r.seed.Check(ctx)
	if err != nil {
		return nil, err
	}
	r.repo = c
	return c, nil
}

// RepositoryCheck is what the last CheckRepository found (nil before one).
func (r *Run) RepositoryCheck() *seed.Check { return r.repo }

func (r *Run) applySeed(ctx context.Context) error {
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	git, err := r.Git()
	if err != nil {
		return err
	}
	g := r.env().GitOps
	if r.repo == nil || r.repo.KeyPending {
		if _, err := r.CheckRepository(ctx); err != nil {
			return err
		}
	}
	if len(r.repo.Retiring) > 0 {
		// Before the push: the Kustomization that applied them must not
		// prune them, nor they what they applied.
		done, err := r.engine().Retire(ctx, r.repo.Retiring)
		if err != nil {
			return err
		}
		if len(done) > 0 {
			r.opts.Logf("retiring Kustomizations %s (an older groundwork's names): what they applied stays, taken over by groundwork-*", strings.Join(done, ", "))
		}
	}
	res, err := git.Apply(ctx, r.seed.Change(files))
	var ce *gitrepo.ConflictError
	if errors.As(err, &ce) {
		return &seed.ConflictError{URL: g.Repository.URL, Branch: g.Repository.Branch, Files: ce.Conflicts}
	}
	if err != nil {
		return err
	}
	r.Revision = res.Revision
	r.output(plan.StepSeed, "revision", res.Revision)
	r.opts.Logf("repository %s at %s (changed: %t, attempts: %d)", g.Repository.URL, res.Revision, res.Changed, res.Attempts)
	// What Git holds now must decrypt with the key store's keys (a key
	// store that lost its key gets a new one, and Git's Secrets do not).
	if err := r.checkCustody(ctx, git, nil); err != nil {
		return err
	}
	if !res.Changed {
		return actions.NoChange
	}
	return nil
}

// --- sync -----------------------------------------------------------------------

func (r *Run) applySync(ctx context.Context) error {
	files, err := r.Render(ctx)
	if err != nil {
		return err
	}
	return r.attach(ctx, render.FileMap(files))
}

// attach points the engine at the repository with the sync objects files
// declare.
func (r *Run) attach(ctx context.Context, files map[string][]byte) error {
	var opts render.Options
	if err := r.seed.NotificationOptions(&opts); err != nil {
		return err
	}
	changed, err := r.engine().Attach(ctx, files, gitops.AttachOptions{NotificationURLs: opts.NotificationURLs})
	if err != nil {
		return err
	}
	if !changed {
		return actions.NoChange
	}
	return nil
}
