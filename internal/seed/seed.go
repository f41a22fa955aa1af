package seed

import (
	"context"
	"errors"

	"filippo.io/age"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Options are what the seeder needs beyond the spec.
type Options struct {
	Env *spec.Environment
	// Environ is the process environment (token_env, url_env, the env key
	// store).
	Environ []string
	// Adopt lists repository paths the user hands over to groundwork (up
	// --adopt-file): written over although they lack the managed header.
	Adopt []string
	// TakeOverBootstrap hands a Flux installed by flux bootstrap, and its
	// files in the environment's folder, over to groundwork.
	TakeOverBootstrap bool
	// Logf gets verbose lines; nil drops them.
	Logf func(format string, args ...any)
}

// Seeder renders the environment's files and works out the change of the
// seed step.
type Seeder struct {
	opts     Options
	creds    *gitrepo.Credentials
	credsErr error // why creds could not be resolved
	engine   gitops.Engine
	// Identity is the environment's age identity (SOPS): up sets it once
	// the key exists; without it Check renders with a placeholder
	// recipient.
	Identity *age.X25519Identity
	// Snapshot is the repository as rebuild read it: notification targets
	// whose variable is unset keep the Secret Git has.
	Snapshot *gitrepo.Snapshot

	files     []render.File
	bootstrap string // the flux bootstrap folder taken over
	check     *Check
}

// New prepares a seeder and resolves the repository's credentials.
func New(opts Options) (*Seeder, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	// Unresolved credentials (an unset token_env) are the repository's
	// problem, reported by its first read (Check, Git), beside up's other
	// prerequisites.
	creds, err := gitrepo.ResolveCredentials(opts.Env.GitOps.Repository.Auth, opts.Environ)
	return &Seeder{opts: opts, creds: creds, credsErr: err, engine: engines.For(opts.Env)}, nil
}

// Credentials are the repository's credentials (nil when it needs none).
func (s *Seeder) Credentials() *gitrepo.Credentials { return s.creds }

// Bootstrap is the flux bootstrap folder the last Check took over ("" for
// none).
func (s *Seeder) Bootstrap() string { return s.bootstrap }

// loadIdentity loads the age identity from the key store, creating
// nothing: a missing key is a *keys.NotFoundError.
func (s *Seeder) loadIdentity(ctx context.Context) error {
	id, err := keys.LoadIdentity(ctx, s.opts.Env.Secrets.KeyStore, s.opts.Environ)
	if err == nil {
		s.Identity = id
	}
	return err
}

// Render renders the environment's repository files.
func (s *Seeder) Render(ctx context.Context) ([]render.File, error) {
	if s.files != nil {
		return s.files, nil
	}
	if s.credsErr != nil {
		return nil, s.credsErr
	}
	var opts render.Options
	if s.opts.Env.Secrets.Provider == spec.SecretsSOPS {
		if s.Identity == nil {
			return nil, errors.New("no age key to render the repository with")
		}
		opts.AgeRecipient = s.Identity.Recipient().String()
	}
	if s.creds != nil {
		opts.CredentialsSecret = facts.CredentialsSecret
	}
	if err := s.NotificationOptions(&opts); err != nil {
		return nil, err
	}
	files, err := render.Render(s.opts.Env, opts)
	if err != nil {
		return nil, err
	}
	s.files = files
	return files, nil
}

// Git returns the client of the environment's repository.
func (s *Seeder) Git() (*gitrepo.Client, error) {
	if s.credsErr != nil {
		return nil, s.credsErr
	}
	g := s.opts.Env.GitOps
	auth, err := s.creds.AuthMethod()
	if err != nil {
		return nil, err
	}
	return &gitrepo.Client{URL: g.Repository.URL, Branch: g.Repository.Branch, Auth: auth,
		Author: object.Signature{Name: g.Commit.AuthorName, Email: g.Commit.AuthorEmail}}, nil
}
