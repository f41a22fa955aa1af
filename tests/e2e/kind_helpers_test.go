//go:build kind

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// kindEnvironment writes, in a fresh folder, an environment on a kind
// cluster named prefix-HHMMSS, seeded into the repository of
// GROUNDWORK_E2E_REPO under clusters/<name> (the test is skipped without
// it), and takes it down with its folder when the test ends.
func kindEnvironment(t *testing.T, prefix string) (name, file string, g *groundwork) {
	t.Helper()
	repo, token := os.Getenv("GROUNDWORK_E2E_REPO"), os.Getenv("GROUNDWORK_E2E_TOKEN")
	if repo == "" {
		t.Skip("set GROUNDWORK_E2E_REPO (an HTTPS Git repository the kind cluster can reach) and GROUNDWORK_E2E_TOKEN")
	}
	name = prefix + "-" + time.Now().UTC().Format("150405")
	file = filepath.Join(t.TempDir(), "kind.hcl")
	src := `environment "` + name + `" {
  cluster "kind" {}
  gitops {
    repository {
      url  = "` + repo + `"
      path = "clusters/` + name + `"
      auth { token_env = "GIT_TOKEN" }
    }
  }
  secrets {
    key_store "file" { path = "keys/e2e.agekey" }
  }
}
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g = &groundwork{t: t, file: file, environ: append(os.Environ(), "GIT_TOKEN="+token)}
	t.Cleanup(func() {
		code, out, errOut := g.run(context.Background(), "down", file, "--purge-repo", "--yes")
		t.Logf("down: exit %d\n%s%s", code, out, errOut)
	})
	return name, file, g
}
