package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestSeedOverSSH seeds a repository on the harness's SSH Git server the way
// up does: the key and known_hosts files of the spec's auth block, host key
// checked; a known_hosts file with another key is refused.
func TestSeedOverSSH(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := harness.StartGitSSHServer(t)
	url := srv.CreateRepo(t, "fleet")
	dir := t.TempDir()
	keyFile, khFile := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	os.WriteFile(keyFile, srv.ClientKeyPEM, 0o600)
	os.WriteFile(khFile, srv.KnownHosts(), 0o644)

	seed := func(kh string) (gitrepo.Result, error) {
		creds, err := gitrepo.ResolveCredentials(spec.RepositoryAuth{SSHKeyFile: keyFile, KnownHostsFile: kh}, nil)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := creds.AuthMethod()
		if err != nil {
			t.Fatal(err)
		}
		c := &gitrepo.Client{URL: url, Branch: "main", Auth: auth, Author: object.Signature{Name: "groundwork", Email: "gw@example.com"}}
		return c.Apply(ctx, gitrepo.Change{Root: "clusters/dev", Message: "seed", Files: []gitrepo.File{{Path: "clusters/dev/a.yaml", Data: []byte("# Managed by groundwork\n")}}})
	}
	res, err := seed(khFile)
	if err != nil || !res.Changed {
		t.Fatalf("seed over SSH: %+v %v", res, err)
	}
	wd := harness.CloneGitWorkdir(t, url, srv.GoGitAuth(t))
	if b, err := os.ReadFile(filepath.Join(wd.Dir, "clusters/dev/a.yaml")); err != nil || !strings.HasPrefix(string(b), "# Managed") {
		t.Errorf("seeded file: %q %v", b, err)
	}
	if res, err := seed(khFile); err != nil || res.Changed {
		t.Errorf("second seed: %+v %v", res, err)
	}

	other := harness.StartGitSSHServer(t) // another host key, same address form
	wrong := filepath.Join(dir, "wrong_known_hosts")
	os.WriteFile(wrong, []byte(strings.Replace(string(other.KnownHosts()), other.Addr()[strings.LastIndex(other.Addr(), ":")+1:], srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:], 1)), 0o644)
	if _, err := seed(wrong); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("a wrong host key must be refused: %v", err)
	}
}
