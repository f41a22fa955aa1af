//go:build kind

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUpOnKind runs the whole flow on a real kind cluster: up, a second up
// that changes nothing, status, down. It needs Docker or Podman, the
// internet (the upstream flux2 chart) and a Git repository the cluster can
// reach, so it sits behind the kind build tag and reads that repository
// from the environment:
//
//	GROUNDWORK_E2E_REPO=https://github.com/you/fleet-test.git \
//	GROUNDWORK_E2E_TOKEN=ghp_... \
//	go test -tags kind ./tests/e2e -run TestUpOnKind -v -timeout 30m
func TestUpOnKind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	_, file, g := kindEnvironment(t, "gw-e2e")
	code, doc, errOut := g.up(ctx)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	t.Logf("up: %d ms, revision %s\n%s", doc.TookMS, doc.Revision, errOut)
	code, doc, errOut = g.up(ctx)
	if code != 0 || doc.Changed {
		t.Fatalf("second up: exit %d, changed %t\n%s", code, doc.Changed, errOut)
	}
	t.Logf("FIGURE no-op up on kind: %d ms", doc.TookMS)
	code, out, errOut := g.run(ctx, "status", file)
	if code != 0 || !strings.Contains(out, "✓ sync") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
}
