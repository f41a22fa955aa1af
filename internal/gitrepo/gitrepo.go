package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/groundwork-dev/groundwork/internal/faults"
)

// ManagedMarker starts every file groundwork manages; a file under the
// environment's folder that has it and is no longer rendered is deleted.
const ManagedMarker = "# Managed by groundwork"

// IsManaged reports whether a file's content starts with ManagedMarker.
func IsManaged(data []byte) bool { return bytes.HasPrefix(data, []byte(ManagedMarker)) }

// File is a file to write, relative to the repository root.
type File struct {
	Path string
	Data []byte
	// SeedOnly files are written only when missing.
	SeedOnly bool
	// Build, when set, computes the file's content from the repository
	// as it is at the head of each attempt: existing is the file's
	// content (nil when missing), managed whether it starts with
	// ManagedMarker, tree every file under the change's Root. A file
	// with Build is never a conflict: Build decides how to live beside
	// what is there (an edit of a user's kustomization.yaml).
	Build func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error)
}

// Change is what to make the repository hold.
type Change struct {
	// Root is the environment's folder: nothing outside it is touched.
	Root    string
	Files   []File
	Message string
	// Purge removes every file under Root, groundwork's or not, except
	// Files and what Keep keeps (down --purge-repo).
	Purge bool
	// Keep, with Purge, keeps a file that is not groundwork's (the user's
	// entry points beside groundwork's folder).
	Keep func(path string, data []byte) bool
	// AddOnly writes Files and removes nothing (secret set, rebuild's
	// restoring of missing files).
	AddOnly bool
	// Edit, when set, computes Files from the files under Root at the
	// head of each attempt, so that a retry after the remote moved edits
	// the new head (deploy); Edit's files are written AddOnly.
	Edit func(current map[string][]byte) ([]File, error)
	// Adopt lists paths the user handed over (up --adopt-file): groundwork
	// may write over them although they do not carry ManagedMarker.
	Adopt []string
}

// Result is the outcome of Apply.
type Result struct {
	// Revision is the branch head after Apply: "main@sha1:<hash>".
	Revision string
	Hash     string
	// Changed is false when the repository already held the change.
	Changed bool
	// Attempts counts pushes tried (more than one when the remote moved).
	Attempts int
}

// Client writes to one branch of one repository.
type Client struct {
	URL    string
	Branch string
	Auth   transport.AuthMethod // nil: anonymous or file://
	Author object.Signature     // When is set at commit time
	// MaxAttempts bounds the retries when the remote moves; 0 means 5.
	MaxAttempts int

	beforePush func() // test hook: runs between commit and push
}

// Apply makes the branch hold the change. It is idempotent: a change
// already there makes no commit.
func (c *Client) Apply(ctx context.Context, ch Change) (Result, error) {
	if err := checkInside(ch.Root, ch.Files); err != nil {
		return Result{}, err
	}
	max := c.MaxAttempts
	if max == 0 {
		max = 5
	}
	var last error
	for attempt := 1; attempt <= max; attempt++ {
		res, err := c.try(ctx, ch)
		res.Attempts = attempt
		if !errors.Is(err, errRemoteMoved) {
			return res, err
		}
		last = err
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt)*100*time.Millisecond + time.Duration(rand.Int64N(int64(100*time.Millisecond)))):
			// jittered, so that racing writers do not collide again
		}
	}
	return Result{Attempts: max}, fmt.Errorf("push to %s kept being rejected after %d attempts because the branch %s keeps moving: %w", c.URL, max, c.Branch, last)
}

var errRemoteMoved = errors.New("the remote branch moved")

func (c *Client) try(ctx context.Context, ch Change) (Result, error) {
	repo, wt, fs, err := c.checkout(ctx)
	if err != nil {
		return Result{}, err
	}
	if ch, err = editFiles(fs, ch); err != nil {
		return Result{}, err
	}
	changes, err := decide(fs, ch)
	if err != nil {
		return Result{}, err
	}
	if conflicts := Conflicts(changes); len(conflicts) > 0 {
		res := Result{}
		if head, err := repo.Head(); err == nil {
			res = c.result(head.Hash(), false)
		}
		return res, &ConflictError{URL: c.URL, Branch: c.Branch, Revision: res.Revision, Conflicts: conflicts}
	}
	if err := write(fs, wt, changes); err != nil {
		return Result{}, err
	}
	status, err := wt.Status()
	if err != nil {
		return Result{}, err
	}
	if status.IsClean() {
		head, err := repo.Head()
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return Result{}, nil // a branch with no commit, and nothing to write (a purge of nothing)
		}
		if err != nil {
			return Result{}, err
		}
		return c.result(head.Hash(), false), nil
	}
	author := c.Author
	author.When = time.Now()
	hash, err := wt.Commit(ch.Message, &git.CommitOptions{Author: &author, Committer: &author})
	if err != nil {
		return Result{}, fmt.Errorf("commit: %w", err)
	}
	ref := plumbing.NewBranchReferenceName(c.Branch)
	if c.beforePush != nil {
		c.beforePush()
	}
	faults.Point("git:committed") // committed in memory, not pushed
	err = repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(ref + ":" + ref)},
		Auth:       c.Auth,
	})
	if err != nil {
		if errors.Is(err, git.ErrNonFastForwardUpdate) || strings.Contains(err.Error(), "non-fast-forward") ||
			strings.Contains(err.Error(), "fetch first") || strings.Contains(err.Error(), "failed to update ref") {
			return Result{}, fmt.Errorf("%w: %v", errRemoteMoved, err)
		}
		return Result{}, fmt.Errorf("push to %s: %w", c.URL, err)
	}
	return c.result(hash, true), nil
}

func (c *Client) result(h plumbing.Hash, changed bool) Result {
	return Result{Revision: c.Branch + "@sha1:" + h.String(), Hash: h.String(), Changed: changed}
}

// checkout clones the branch into memory. An empty repository, or one
// without the branch, gets the branch created (from the default branch's
// head when there is one; a new history when the repository's HEAD names
// a branch that does not exist either).
func (c *Client) checkout(ctx context.Context) (*git.Repository, *git.Worktree, billy.Filesystem, error) {
	fs := memfs.New()
	ref := plumbing.NewBranchReferenceName(c.Branch)
	repo, err := git.CloneContext(ctx, memory.NewStorage(), fs, &git.CloneOptions{
		URL: c.URL, Auth: c.Auth, ReferenceName: ref, SingleBranch: true,
	})
	switch {
	case err == nil:
		wt, err := repo.Worktree()
		return repo, wt, fs, err
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return c.orphan(ref)
	case isMissingRef(err):
		fs = memfs.New()
		repo, err = git.CloneContext(ctx, memory.NewStorage(), fs, &git.CloneOptions{URL: c.URL, Auth: c.Auth})
		if isMissingRef(err) {
			return c.orphan(ref)
		}
		if err != nil {
			return nil, nil, nil, describe(c.URL, c.Auth != nil, err)
		}
		wt, err := repo.Worktree()
		if err != nil {
			return nil, nil, nil, err
		}
		if err := wt.Checkout(&git.CheckoutOptions{Branch: ref, Create: true}); err != nil {
			return nil, nil, nil, err
		}
		return repo, wt, fs, nil
	default:
		return nil, nil, nil, describe(c.URL, c.Auth != nil, err)
	}
}

// orphan starts the branch with a history of its own, in memory.
func (c *Client) orphan(ref plumbing.ReferenceName) (*git.Repository, *git.Worktree, billy.Filesystem, error) {
	fs := memfs.New()
	repo, err := git.Init(memory.NewStorage(), fs)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.URL}}); err != nil {
		return nil, nil, nil, err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, ref)); err != nil {
		return nil, nil, nil, err
	}
	wt, err := repo.Worktree()
	return repo, wt, fs, err
}

func isMissingRef(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, plumbing.ErrReferenceNotFound) || strings.Contains(err.Error(), "couldn't find remote ref")
}

// describe turns go-git's transport errors into what a user can act on.
func describe(url string, withCredentials bool, err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired) && withCredentials:
		return fmt.Errorf("cannot read %s: the credentials were refused; check the token or key and its access to the repository: %w", url, err)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return fmt.Errorf("cannot read %s: the server asks for credentials; set gitops.repository.auth (token_env or ssh_key_file): %w", url, err)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("cannot read %s: the credentials were refused; check the token or key and its access to the repository: %w", url, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("cannot read %s: no repository there; check the URL, or create the repository first: %w", url, err)
	}
	return fmt.Errorf("cannot read %s: %w", url, err)
}

// write carries out the decided changes in the worktree.
func write(fs billy.Filesystem, wt *git.Worktree, changes []FileChange) error {
	for _, c := range changes {
		switch c.Action {
		case ActionAdd, ActionChange, ActionAdopt, ActionEdit:
			if err := fs.MkdirAll(path.Dir(c.Path), 0o755); err != nil {
				return err
			}
			if err := writeFile(fs, c.Path, c.New); err != nil {
				return err
			}
			if _, err := wt.Add(c.Path); err != nil {
				return fmt.Errorf("stage %s: %w", c.Path, err)
			}
		case ActionRemove:
			if _, err := wt.Remove(c.Path); err != nil {
				return fmt.Errorf("remove %s: %w", c.Path, err)
			}
		}
	}
	return nil
}

func writeFile(fs billy.Filesystem, p string, data []byte) error {
	f, err := fs.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func walk(fs billy.Filesystem, dir string, fn func(string) error) error {
	entries, err := fs.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if e.IsDir() {
			err = walk(fs, p, fn)
		} else {
			err = fn(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkInside refuses files outside the environment's folder.
func checkInside(root string, files []File) error {
	for _, f := range files {
		if !inside(root, f.Path) {
			return fmt.Errorf("refusing to write %s: it is outside the environment's folder %s", f.Path, root)
		}
	}
	return nil
}

func inside(root, p string) bool {
	root = path.Clean(root)
	p = path.Clean(p)
	return p != root && strings.HasPrefix(p, root+"/") && !strings.Contains(p, "..")
}
