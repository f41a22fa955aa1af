package harness

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// GitWorkdir is a local go-git working copy whose origin is a harness Git
// server; tests write files, commit and push through it.
type GitWorkdir struct {
	Dir    string
	Repo   *git.Repository
	Auth   transport.AuthMethod
	Branch string
}

// NewGitWorkdir initialises an empty working copy on branch main with
// origin set to url (the remote may be empty).
func NewGitWorkdir(t testing.TB, url string, auth transport.AuthMethod) *GitWorkdir {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatalf("git init: %v", err)
	}
	if _, err := r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	return &GitWorkdir{Dir: dir, Repo: r, Auth: auth, Branch: "main"}
}

// CloneGitWorkdir clones url (branch main) with go-git.
func CloneGitWorkdir(t testing.TB, url string, auth transport.AuthMethod) *GitWorkdir {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainClone(dir, false, &git.CloneOptions{URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName("main")})
	if err != nil {
		t.Fatalf("git clone %s: %v", url, err)
	}
	return &GitWorkdir{Dir: dir, Repo: r, Auth: auth, Branch: "main"}
}

// WriteFile writes content to path (relative to the working copy).
func (w *GitWorkdir) WriteFile(t testing.TB, path, content string) {
	t.Helper()
	p := filepath.Join(w.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Remove deletes path (file or directory) from the working copy.
func (w *GitWorkdir) Remove(t testing.TB, path string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(w.Dir, filepath.FromSlash(path))); err != nil {
		t.Fatal(err)
	}
}

// CommitAndPush stages everything (including deletions), commits and pushes
// the branch to origin. It returns the commit hash.
func (w *GitWorkdir) CommitAndPush(t testing.TB, msg string) string {
	t.Helper()
	wt, err := w.Repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatalf("git add: %v", err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		AllowEmptyCommits: true,
		Author:            &object.Signature{Name: "groundwork test", Email: "test@groundwork.invalid", When: time.Now()},
	})
	if err != nil {
		t.Fatalf("git commit: %v", err)
	}
	ref := plumbing.NewBranchReferenceName(w.Branch)
	err = w.Repo.Push(&git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(ref + ":" + ref)},
		Auth:       w.Auth,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		t.Fatalf("git push: %v", err)
	}
	return h.String()
}

// BasicAuth returns go-git credentials for a GitHTTPServer with basic auth.
func (s *GitHTTPServer) BasicAuth() transport.AuthMethod {
	if s.opts.Username == "" {
		return nil
	}
	return &githttp.BasicAuth{Username: s.opts.Username, Password: s.opts.Password}
}

// GoGitAuth returns go-git SSH credentials using ClientKeyPEM and pinning
// the server's host key.
func (s *GitSSHServer) GoGitAuth(t testing.TB) transport.AuthMethod {
	t.Helper()
	auth, err := gitssh.NewPublicKeys("git", s.ClientKeyPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	auth.HostKeyCallback = ssh.FixedHostKey(s.HostKey())
	return auth
}
