package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git runs git in dir as a user with a fixed identity and no system or
// user configuration, and returns its trimmed output; a failure fails t.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com",
		"GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Bare makes an empty bare repository whose default branch is main.
func Bare(t testing.TB) (dir, url string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "fleet.git")
	Git(t, t.TempDir(), "init", "-q", "--bare", "-b", "main", dir)
	return dir, "file://" + dir
}

// Commit commits files (path to content) to branch of the bare repository
// as a user would: clone, write, commit, push.
func Commit(t testing.TB, bareDir, branch string, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	Git(t, work, "clone", "-q", bareDir, ".")
	if out := Git(t, work, "branch", "-a"); strings.Contains(out, "origin/"+branch) {
		Git(t, work, "checkout", "-q", branch)
	} else {
		Git(t, work, "checkout", "-q", "-b", branch)
	}
	for p, data := range files {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", "user change")
	Git(t, work, "push", "-q", "origin", branch)
}

// Head is the commit branch points at in the bare repository ("" when it
// has none).
func Head(t testing.TB, bareDir, branch string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", bareDir, "rev-parse", "--verify", "-q", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
