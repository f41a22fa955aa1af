package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
)

// These tests run against real bare repositories made and inspected with the
// real git binary.

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}

func bare(t *testing.T) (dir, url string) { return gittest.Bare(t) }

// userCommit commits files to branch of the bare repo as a user would.
func userCommit(t *testing.T, bareDir, branch string, files map[string]string) {
	t.Helper()
	gittest.Commit(t, bareDir, branch, files)
}

func show(t *testing.T, bareDir, rev, p string) string {
	return gitCLI(t, bareDir, "show", rev+":"+p)
}

func client(url string) *Client {
	return &Client{URL: url, Branch: "main", Author: object.Signature{Name: "groundwork", Email: "gw@example.com"}}
}

func change(files ...File) Change {
	return Change{Root: "clusters/dev", Files: files, Message: "groundwork: update dev"}
}

func managed(p, body string) File {
	return File{Path: "clusters/dev/" + p, Data: []byte(ManagedMarker + "\n" + body + "\n")}
}

func TestSeedEmptyRepositoryThenNoOp(t *testing.T) {
	dir, url := bare(t)
	c := client(url)
	ch := change(managed("a.yaml", "a: 1"), File{Path: "clusters/dev/apps/kustomization.yaml", Data: []byte("resources: []\n"), SeedOnly: true})
	res, err := c.Apply(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Revision != "main@sha1:"+res.Hash {
		t.Fatalf("first apply: %+v", res)
	}
	if got := gitCLI(t, dir, "rev-parse", "main"); got != res.Hash {
		t.Fatalf("branch main at %s, want %s", got, res.Hash)
	}
	if got := gitCLI(t, dir, "log", "-1", "--format=%an <%ae> %s", "main"); got != "groundwork <gw@example.com> groundwork: update dev" {
		t.Fatalf("commit: %s", got)
	}
	again, err := c.Apply(context.Background(), ch)
	if err != nil || again.Changed || again.Hash != res.Hash {
		t.Fatalf("second apply must change nothing: %+v %v", again, err)
	}
	if n := gitCLI(t, dir, "rev-list", "--count", "main"); n != "1" {
		t.Fatalf("%s commits, want 1", n)
	}
}

func TestLeavesEverythingElseAlone(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"README.md":                            "# fleet\n",
		"clusters/prod/kustomization.yaml":     ManagedMarker + "\nprod\n",
		"clusters/dev/apps/kustomization.yaml": "resources: [my-app]\n",
		"clusters/dev/apps/my-app.yaml":        "kind: ConfigMap\n",
		"clusters/dev/infrastructure/old.yaml": ManagedMarker + "\nold addon\n",
	})
	ch := change(managed("kustomization.yaml", "root"),
		File{Path: "clusters/dev/apps/kustomization.yaml", Data: []byte("resources: []\n"), SeedOnly: true})
	res, err := client(url).Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got := show(t, dir, "main", "README.md"); got != "# fleet" {
		t.Errorf("README changed: %q", got)
	}
	if got := show(t, dir, "main", "clusters/prod/kustomization.yaml"); !strings.Contains(got, "prod") {
		t.Errorf("another environment's file changed: %q", got)
	}
	if got := show(t, dir, "main", "clusters/dev/apps/kustomization.yaml"); got != "resources: [my-app]" {
		t.Errorf("a seed file the user edited was overwritten: %q", got)
	}
	if got := show(t, dir, "main", "clusters/dev/apps/my-app.yaml"); got != "kind: ConfigMap" {
		t.Errorf("a user file was touched: %q", got)
	}
	files := gitCLI(t, dir, "ls-tree", "-r", "--name-only", "main")
	if strings.Contains(files, "infrastructure/old.yaml") {
		t.Errorf("a managed file no longer rendered must be removed:\n%s", files)
	}
	if _, err := client(url).Apply(context.Background(), Change{Root: "clusters/dev", Files: []File{{Path: "README.md"}}}); err == nil || !strings.Contains(err.Error(), "outside the environment's folder") {
		t.Errorf("writing outside the root must be refused: %v", err)
	}
}

func TestRemoteMovedIsRebasedNotForced(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{"README.md": "v1\n"})
	c := client(url)
	raced := false
	c.beforePush = func() {
		if !raced { // another pipeline pushes between our clone and our push
			raced = true
			userCommit(t, dir, "main", map[string]string{"README.md": "v2 from another pipeline\n"})
		}
	}
	res, err := c.Apply(context.Background(), change(managed("a.yaml", "a")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || !res.Changed {
		t.Fatalf("want a retry that lands: %+v", res)
	}
	if got := show(t, dir, "main", "README.md"); got != "v2 from another pipeline" {
		t.Fatalf("the other pipeline's commit was lost: %q", got)
	}
	if got := show(t, dir, "main", "clusters/dev/a.yaml"); !strings.Contains(got, "a") {
		t.Fatalf("our change did not land: %q", got)
	}
	if n := gitCLI(t, dir, "rev-list", "--count", "main"); n != "3" {
		t.Fatalf("%s commits, want 3 (v1, v2, ours)", n)
	}
}

func TestCreatesMissingBranchFromDefault(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{"README.md": "hello\n"})
	c := client(url)
	c.Branch = "env/dev"
	res, err := c.Apply(context.Background(), change(managed("a.yaml", "a")))
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got := show(t, dir, "env/dev", "README.md"); got != "hello" {
		t.Fatalf("new branch does not start from main: %q", got)
	}
	if got := gitCLI(t, dir, "rev-list", "--count", "main"); got != "1" {
		t.Fatalf("main must be untouched, has %s commits", got)
	}
}

func TestMissingRepositorySaysSo(t *testing.T) {
	_, err := client("file://"+filepath.Join(t.TempDir(), "nope.git")).Apply(context.Background(), change(managed("a.yaml", "a")))
	if err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("got %v", err)
	}
}

func TestPurgeRemovesTheEnvironmentOnly(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/apps/shop.yaml": "kind: ConfigMap\n",
		"clusters/prod/a.yaml":        "# Managed by groundwork\n",
		"README.md":                   "fleet\n",
	})
	res, err := client(url).Apply(context.Background(), Change{Root: "clusters/dev", Purge: true, Message: "remove dev"})
	if err != nil || !res.Changed {
		t.Fatalf("purge: %+v %v", res, err)
	}
	files := gitCLI(t, dir, "ls-tree", "-r", "--name-only", "main")
	if strings.Contains(files, "clusters/dev/") || !strings.Contains(files, "clusters/prod/a.yaml") || !strings.Contains(files, "README.md") {
		t.Errorf("files after purge:\n%s", files)
	}
}

func TestResolveCredentials(t *testing.T) {
	c, err := ResolveCredentials(spec.RepositoryAuth{TokenEnv: "TOK", Username: "git"}, []string{"TOK=abc"})
	if err != nil || c.Token != "abc" || string(c.SecretData()["password"]) != "abc" || string(c.SecretData()["username"]) != "git" {
		t.Fatalf("token: %+v %v", c, err)
	}
	if _, err := ResolveCredentials(spec.RepositoryAuth{TokenEnv: "TOK"}, nil); err == nil || !strings.Contains(err.Error(), "TOK (token_env) is not set") {
		t.Errorf("unset token: %v", err)
	}
	if c, err := ResolveCredentials(spec.RepositoryAuth{}, nil); c != nil || err != nil {
		t.Errorf("no auth: %+v %v", c, err)
	}
	key := filepath.Join(t.TempDir(), "id")
	os.WriteFile(key, []byte("not a key"), 0o600)
	if _, err := ResolveCredentials(spec.RepositoryAuth{SSHKeyFile: key, KnownHostsFile: key}, nil); err == nil || !strings.Contains(err.Error(), "not an unencrypted SSH private key") {
		t.Errorf("bad key: %v", err)
	}
}

func TestAddOnlyKeepsTheRest(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{"clusters/dev/a.yaml": "# Managed by groundwork\n"})
	res, err := client(url).Apply(context.Background(), Change{Root: "clusters/dev", AddOnly: true, Message: "add",
		Files: []File{{Path: "clusters/dev/secrets/x.yaml", Data: []byte("kind: Secret\n")}}})
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	files := gitCLI(t, dir, "ls-tree", "-r", "--name-only", "main")
	if !strings.Contains(files, "clusters/dev/a.yaml") || !strings.Contains(files, "clusters/dev/secrets/x.yaml") {
		t.Errorf("files:\n%s", files)
	}
}

func TestRead(t *testing.T) {
	dir, url := bare(t)
	s, err := client(url).Read(context.Background(), "clusters/dev")
	if err != nil || len(s.Files) != 0 || s.Revision != "" {
		t.Fatalf("empty repository: %+v %v", s, err)
	}
	userCommit(t, dir, "main", map[string]string{"clusters/dev/a.yaml": "a\n", "clusters/prod/b.yaml": "b\n"})
	s, err = client(url).Read(context.Background(), "clusters/dev")
	head := gitCLI(t, dir, "rev-parse", "main")
	if err != nil || string(s.Files["clusters/dev/a.yaml"]) != "a\n" || len(s.Files) != 1 || s.Revision != "main@sha1:"+head {
		t.Fatalf("read: %+v %v", s, err)
	}
}

func TestIsAncestor(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{"a": "1"})
	first := gitCLI(t, dir, "rev-parse", "main")
	userCommit(t, dir, "main", map[string]string{"a": "2"})
	second := gitCLI(t, dir, "rev-parse", "main")
	c := client(url)
	for _, tc := range []struct {
		a, d string
		want bool
	}{{first, second, true}, {second, first, false}, {"main@sha1:" + first, "main@sha1:" + first, true}, {first, strings.Repeat("0", 40), false}} {
		if got, err := c.IsAncestor(context.Background(), tc.a, tc.d); err != nil || got != tc.want {
			t.Errorf("IsAncestor(%s, %s) = %t %v", tc.a, tc.d, got, err)
		}
	}
}

// TestPurgeOfABranchThatDoesNotExist: down --purge-repo of an instance
// whose up never seeded failed with go-git's "reference not found" when
// the branch did not exist (an empty repository, or one whose HEAD names a
// missing branch); there is nothing to purge, and nothing is pushed. Such
// a repository is seeded with a branch of its own.
func TestPurgeOfABranchThatDoesNotExist(t *testing.T) {
	dir, url := bare(t)
	purge := Change{Root: "clusters/dev", Purge: true, Message: "remove dev"}
	if res, err := client(url).Apply(context.Background(), purge); err != nil || res.Changed {
		t.Fatalf("purge of an empty repository: %+v %v", res, err)
	}
	userCommit(t, dir, "other", map[string]string{"README.md": "other\n"})
	if res, err := client(url).Apply(context.Background(), purge); err != nil || res.Changed {
		t.Fatalf("purge of a missing branch: %+v %v", res, err)
	}
	if got := gitCLI(t, dir, "branch", "--list", "main"); got != "" {
		t.Fatalf("the purge made a branch: %q", got)
	}
	res, err := client(url).Apply(context.Background(), change(managed("a.yaml", "a")))
	if err != nil || !res.Changed {
		t.Fatalf("seed beside another branch: %+v %v", res, err)
	}
	if files := gitCLI(t, dir, "ls-tree", "-r", "--name-only", "main"); files != "clusters/dev/a.yaml" {
		t.Errorf("main holds:\n%s", files)
	}
}
