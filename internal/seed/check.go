package seed

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Check is what up will do to the environment's repository, read
// from the branch head before anything changes.
type Check struct {
	URL, Branch, Path string
	// Preview is the change file by file (conflicts included).
	Preview *gitrepo.Preview
	// Collisions are objects the repository declares that groundwork
	// declares too.
	Collisions []declared.Collision
	// Declared are the objects the repository declares for the engine
	// under the environment's path once the change is in, groundwork's
	// and the user's: the wait step waits for them.
	Declared []string
	// Retiring are Kustomizations groundwork declared that the change
	// stops declaring (the layout of an older groundwork): up keeps them
	// from pruning what they applied (flux.Retire).
	Retiring []string
	// KeyPending is true when the environment's age key does not exist
	// yet: up creates it, and .sops.yaml shows a placeholder recipient.
	KeyPending bool
	// Bootstrap is the folder flux bootstrap made, when up takes it over
	// (--take-over-bootstrap); "" otherwise.
	Bootstrap string
}

// Err is the *ConflictError of the check, or nil.
func (c *Check) Err() error {
	files := gitrepo.Conflicts(c.Preview.Changes)
	if len(files) == 0 && len(c.Collisions) == 0 {
		return nil
	}
	return &ConflictError{URL: c.URL, Branch: c.Branch, Files: files, Objects: c.Collisions, BeforeAnyChange: true}
}

// ConflictError stops up where going on would mean writing over files, or
// taking objects, that are the user's.
type ConflictError struct {
	URL, Branch string
	Files       []gitrepo.FileChange
	Objects     []declared.Collision
	// BeforeAnyChange is true when up stopped before its first change.
	BeforeAnyChange bool
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the repository %s (branch %s) holds what groundwork would have to take from you:\n", e.URL, e.Branch)
	if len(e.Files) > 0 {
		fmt.Fprintf(&b, "Files groundwork wants to write that are yours (they do not start with %q):\n", gitrepo.ManagedMarker)
		for _, f := range e.Files {
			fmt.Fprintf(&b, "  %s: %s\n", f.Path, f.Reason)
		}
	}
	bootstrap := ""
	if len(e.Objects) > 0 {
		b.WriteString("Objects your repository declares that groundwork declares too (two owners would fight over them, and pruning by one deletes the other's):\n")
		for _, c := range e.Objects {
			fmt.Fprintf(&b, "  %s, in %s (groundwork's is in %s)\n", c.Object, c.Object.File, c.Ours.File)
			if base := path.Base(c.Object.File); base == "gotk-sync.yaml" || base == "gotk-components.yaml" {
				bootstrap = path.Dir(c.Object.File)
			}
		}
	}
	if bootstrap != "" {
		fmt.Fprintf(&b, "%s was made by flux bootstrap: groundwork would declare the same GitRepository and Kustomization as its gotk-sync.yaml. To hand that Flux over to groundwork, run up again with --take-over-bootstrap: Helm adopts the running controllers (never deleted), and one commit replaces the bootstrap's files with groundwork's, without Flux pruning itself or what it applied.\n", bootstrap)
	}
	b.WriteString("Ways out:\n")
	if len(e.Files) > 0 {
		fmt.Fprintf(&b, "  - for a file: move or rename yours, or hand it over with --adopt-file PATH (groundwork replaces its content), or make %q its first line;\n", gitrepo.ManagedMarker)
	}
	if len(e.Objects) > 0 {
		b.WriteString("  - for an object: rename or remove your declaration of it;\n")
	}
	b.WriteString("  - or give groundwork a folder of its own: set gitops.repository.path to a new folder.\n")
	if e.BeforeAnyChange {
		b.WriteString("Nothing was committed or pushed, and nothing was changed in the cluster.")
	} else {
		b.WriteString("Nothing was committed or pushed.")
	}
	return b.String()
}

// placeholderRecipient stands for the age recipient up creates, in a
// check made before the key exists.
const placeholderRecipient = "<the age recipient up creates>"

// CheckRepository reads the environment's repository and works out, without
// changing anything anywhere (not even the key store), what up's seed step
// will do to it: the file changes, conflicts with the user's files, objects
// both declare, the user's Kustomizations. up runs it before its first
// step and stops on a conflict (Check.Err); plan shows it.
func (s *Seeder) Check(ctx context.Context) (*Check, error) {
	files, keyPending, err := s.renderForCheck(ctx)
	if err != nil {
		return nil, err
	}
	git, err := s.Git()
	if err != nil {
		return nil, err
	}
	g := s.opts.Env.GitOps
	s.bootstrap = ""
	p, err := git.Preview(ctx, s.Change(files))
	if err != nil {
		return nil, err
	}
	if dir := findBootstrap(p.Tree, g.Repository.Path); dir != "" && s.opts.TakeOverBootstrap && s.engine.TakesOverBootstrap() {
		// The bootstrap's files go in the seed commit: read again with
		// their removal in the change.
		s.bootstrap = dir
		if p, err = git.Preview(ctx, s.Change(files)); err != nil {
			return nil, err
		}
	}
	c := &Check{URL: g.Repository.URL, Branch: g.Repository.Branch, Path: g.Repository.Path, Preview: p, KeyPending: keyPending, Bootstrap: s.bootstrap}
	rendered := map[string]bool{}
	var ours []declared.Object
	for _, f := range files {
		rendered[f.Path] = true
		if !f.SeedOnly {
			ours = append(ours, declared.Decode(f.Path, f.Data)...)
		}
	}
	// The repository as the change leaves it, so that what groundwork's
	// own Kustomizations reach (the apps/ folder) counts too.
	after := make(map[string][]byte, len(p.Tree))
	for f, b := range p.Tree {
		after[f] = b
	}
	for _, ch := range p.Changes {
		switch ch.Action {
		case gitrepo.ActionRemove:
			delete(after, ch.Path)
		case gitrepo.ActionConflict:
		default:
			after[ch.Path] = ch.New
		}
	}
	_, source := s.engine.SyncRoot()
	theirs := declared.Reachable(after, g.Repository.Path, source, func(file string) bool {
		return rendered[file] || gitrepo.IsManaged(after[file])
	})
	c.Collisions = append(declared.Collisions(ours, theirs), s.engine.Collisions(theirs)...)
	// What the engine applies: the files under the environment's path,
	// and those outside it that its entry points reach.
	applied := under(after, g.Repository.Path)
	for _, o := range theirs {
		applied[o.File] = after[o.File]
	}
	c.Declared = s.engine.Declared(applied)
	c.Retiring = s.engine.Retiring(p.Changes, ours)
	s.check = c
	return c, nil
}

// renderForCheck renders the repository files with the keys as they are:
// a missing age key is not created here (up's secrets step does that) but
// stands as a placeholder recipient.
func (s *Seeder) renderForCheck(ctx context.Context) ([]render.File, bool, error) {
	if s.credsErr != nil {
		return nil, false, s.credsErr
	}
	if s.files != nil || s.opts.Env.Secrets.Provider != spec.SecretsSOPS || s.Identity != nil {
		files, err := s.Render(ctx)
		return files, false, err
	}
	err := s.loadIdentity(ctx)
	var nf *keys.NotFoundError
	if errors.As(err, &nf) {
		opts := render.Options{AgeRecipient: placeholderRecipient, KeyPending: true}
		if s.creds != nil {
			opts.CredentialsSecret = facts.CredentialsSecret
		}
		// The URLs are not encrypted here, but a missing one stops up
		// before its first step all the same.
		if err := s.NotificationOptions(&opts); err != nil {
			return nil, false, err
		}
		files, err := render.Render(s.opts.Env, opts)
		return files, true, err
	}
	if err != nil {
		return nil, false, err
	}
	files, err := s.Render(ctx)
	return files, false, err
}

// seedChange is the repository change of the seed step.
func (s *Seeder) Change(files []render.File) gitrepo.Change {
	g := s.opts.Env.GitOps
	ch := gitrepo.Change{Root: g.Repository.Path, Message: g.Commit.Message, Adopt: s.opts.Adopt}
	for _, f := range files {
		ch.Files = append(ch.Files, gitrepo.File{Path: f.Path, Data: f.Data, SeedOnly: f.SeedOnly, Build: f.Build})
	}
	if s.bootstrap != "" {
		ch = withBootstrapRemoved(ch, s.bootstrap)
	}
	return ch
}

// under are the files under dir.
func under(files map[string][]byte, dir string) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range files {
		if strings.HasPrefix(p, dir+"/") {
			out[p] = b
		}
	}
	return out
}
