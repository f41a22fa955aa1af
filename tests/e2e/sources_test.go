package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestOCIRegistry pushes a chart to the in-process OCI registry and pulls it
// back with the Helm SDK.
func TestOCIRegistry(t *testing.T) {
	skipIfShort(t)
	reg := harness.StartOCIRegistry(t)
	ref := reg.Push(t, harness.SimpleChart("hello", "0.1.0"), "charts")
	res, err := reg.Client(t).Pull(ref, helmregistry.PullOptWithChart(true))
	if err != nil {
		t.Fatalf("helm pull oci://%s: %v", ref, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "hello" || ch.Metadata.Version != "0.1.0" {
		t.Fatalf("pulled %s %s", ch.Name(), ch.Metadata.Version)
	}
	tags, err := reg.Client(t).Tags(reg.Host + "/charts/hello")
	if err != nil || len(tags) != 1 || tags[0] != "0.1.0" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	t.Logf("pushed and pulled oci://%s (digest %s)", ref, res.Manifest.Digest)
}

// TestChartRepo checks that the HTTP chart repository indexes added charts.
func TestChartRepo(t *testing.T) {
	skipIfShort(t)
	repo := harness.StartChartRepo(t)
	repo.Add(t, harness.SimpleChart("hello", "0.1.0"))
	repo.Add(t, harness.SimpleChart("hello", "0.2.0"))
	idx, err := os.ReadFile(filepath.Join(repo.Dir(), "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version: 0.1.0", "version: 0.2.0", repo.URL() + "/hello-0.2.0.tgz"} {
		if !strings.Contains(string(idx), want) {
			t.Fatalf("index.yaml lacks %q:\n%s", want, idx)
		}
	}
}

// TestGitSSHServer pushes and clones over SSH with go-git, and clones with
// the git CLI using the same key and known_hosts.
func TestGitSSHServer(t *testing.T) {
	skipIfShort(t)
	srv := harness.StartGitSSHServer(t)
	url := srv.CreateRepo(t, "infra")
	wd := harness.NewGitWorkdir(t, url, srv.GoGitAuth(t))
	wd.WriteFile(t, "README.md", "hello over ssh\n")
	commit := wd.CommitAndPush(t, "first")

	clone := harness.CloneGitWorkdir(t, url, srv.GoGitAuth(t))
	b, err := os.ReadFile(filepath.Join(clone.Dir, "README.md"))
	if err != nil || string(b) != "hello over ssh\n" {
		t.Fatalf("cloned README: %q %v", b, err)
	}
	clone.WriteFile(t, "second.txt", "2\n")
	second := clone.CommitAndPush(t, "second")

	// The real ssh + git CLI, when present, sees both commits.
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Logf("ssh CLI not installed; go-git round trip only (commits %s, %s)", commit[:8], second[:8])
		return
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, srv.ClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kh, srv.KnownHosts(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "clone", "-q", url, filepath.Join(dir, "cli"))
	cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=ssh -i "+key+" -o IdentitiesOnly=yes -o UserKnownHostsFile="+kh+" -o StrictHostKeyChecking=yes")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone over ssh: %v\n%s", err, out)
	}
	out, err := exec.Command("git", "-C", filepath.Join(dir, "cli"), "log", "--format=%H").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), commit) || !strings.Contains(string(out), second) {
		t.Fatalf("git log over ssh clone:\n%s", out)
	}
}

// TestGitHTTPServer pushes and clones over smart HTTP with and without
// basic auth; a wrong password is rejected.
func TestGitHTTPServer(t *testing.T) {
	skipIfShort(t)
	for _, opts := range []harness.GitHTTPOptions{{}, {Username: "alice", Password: "pw"}} {
		srv := harness.StartGitHTTPServer(t, opts)
		url := srv.CreateRepo(t, "repo")
		wd := harness.NewGitWorkdir(t, url, srv.BasicAuth())
		wd.WriteFile(t, "a.txt", "a\n")
		commit := wd.CommitAndPush(t, "first")
		clone := harness.CloneGitWorkdir(t, url, srv.BasicAuth())
		head, err := clone.Repo.Head()
		if err != nil || head.Hash().String() != commit {
			t.Fatalf("clone HEAD %v %v, want %s", head, err, commit)
		}
		if opts.Username == "" {
			continue
		}
		_, err = git.PlainClone(t.TempDir(), false, &git.CloneOptions{URL: url, Auth: &githttp.BasicAuth{Username: "alice", Password: "wrong"}})
		if err == nil {
			t.Fatalf("clone with a wrong password succeeded")
		}
	}
}
