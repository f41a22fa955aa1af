//go:build kind

package e2e

import (
	"context"
	"encoding/json"
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
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	name, file, g := kindEnvironment(t, "gw-drill")
	dir := filepath.Dir(file)
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
