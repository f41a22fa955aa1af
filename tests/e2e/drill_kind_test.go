//go:build kind

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/drill"
)

// TestDrillOnKind runs a drill into the kind cluster it makes by default
// (Docker or Podman needed, so behind the kind build tag, as TestUpOnKind):
// up on a kind cluster, then a drill of the same environment into a second
// kind cluster named <environment>-drill-<id>, which passes every layer and
// is deleted afterwards, the environment's own cluster untouched.
//
//	GROUNDWORK_E2E_REPO=https://github.com/you/fleet-test.git \
//	GROUNDWORK_E2E_TOKEN=ghp_... \
//	go test -tags kind ./tests/e2e -run TestDrillOnKind -v -timeout 40m
func TestDrillOnKind(t *testing.T) {
	repo, token := os.Getenv("GROUNDWORK_E2E_REPO"), os.Getenv("GROUNDWORK_E2E_TOKEN")
	if repo == "" {
		t.Skip("set GROUNDWORK_E2E_REPO (an HTTPS Git repository the kind cluster can reach) and GROUNDWORK_E2E_TOKEN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	dir := t.TempDir()
	name := "gw-drill-" + time.Now().UTC().Format("150405")
	file := filepath.Join(dir, "kind.hcl")
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
	g := &groundwork{t: t, file: file, environ: append(os.Environ(), "GIT_TOKEN="+token)}
	t.Cleanup(func() {
		code, out, errOut := g.run(context.Background(), "down", file, "--purge-repo", "--yes")
		t.Logf("down: exit %d\n%s%s", code, out, errOut)
	})
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	code, out, errOut := g.run(ctx, "drill", file, "--output", "json", "--report", filepath.Join(dir, "drill.html"))
	if code != 0 {
		t.Fatalf("drill: exit %d\n%s%s", code, out, errOut)
	}
	var rep drill.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE drill on kind: RTO %d ms, cluster layer %d ms, removal %d ms", rep.RTOMS, rep.Layers[0].TookMS, rep.Removal.TookMS)
	clusters, err := exec.CommandContext(ctx, "kind", "get", "clusters").Output()
	if err == nil && strings.Contains(string(clusters), rep.Instance) {
		t.Errorf("the drill's kind cluster %s stays", rep.Instance)
	}
	if err == nil && !strings.Contains(string(clusters), name) {
		t.Errorf("the environment's own kind cluster %s is gone", name)
	}
}
