package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestDeployRace runs several deploys at once against the same repository
// on the harness's HTTP Git server, as parallel pipelines do: every one
// lands (rebased on the moved head, never forced) and no change is lost.
func TestDeployRace(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: "t0ken"})
	url := srv.CreateRepo(t, "fleet")
	wd := harness.NewGitWorkdir(t, url, srv.BasicAuth())
	const apps = 4
	var kust, manifests strings.Builder
	kust.WriteString("resources:\n  - apps.yaml\nimages:\n")
	for i := 0; i < apps; i++ {
		fmt.Fprintf(&kust, "  - name: app%d\n    newTag: \"1.0\"\n", i)
		fmt.Fprintf(&manifests, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app%d\nspec:\n  containers:\n    - name: c\n      image: app%d\n", i, i)
	}
	wd.WriteFile(t, "clusters/dev/apps/kustomization.yaml", kust.String())
	wd.WriteFile(t, "clusters/dev/apps/apps.yaml", manifests.String())
	wd.CommitAndPush(t, "apps")

	dir := t.TempDir()
	file := filepath.Join(dir, "dev.hcl")
	os.WriteFile(file, []byte(`environment "dev" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    repository {
      url  = "`+url+`"
      auth { token_env = "GIT_TOKEN" }
    }
  }
}`), 0o644)

	var wg sync.WaitGroup
	docs := make([]map[string]any, apps)
	errs := make([]string, apps)
	for i := 0; i < apps; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var out, errOut bytes.Buffer
			io := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}
			code := app.Run(ctx, io, []string{"deploy", file, "--image", fmt.Sprintf("app%d=registry.example/app%d:2.%d", i, i, i), "--output", "json"},
				func() []string { return []string{"GIT_TOKEN=t0ken"} })
			if code != 0 {
				errs[i] = fmt.Sprintf("exit %d: %s%s", code, out.String(), errOut.String())
				return
			}
			if err := json.Unmarshal(out.Bytes(), &docs[i]); err != nil {
				errs[i] = err.Error()
			}
		}(i)
	}
	wg.Wait()
	attempts := 0.0
	for i, e := range errs {
		if e != "" {
			t.Errorf("deploy %d: %s", i, e)
			continue
		}
		attempts += docs[i]["attempts"].(float64)
	}
	t.Logf("FIGURE %d racing deploys: %.0f push attempts in all", apps, attempts)
	final := harness.CloneGitWorkdir(t, url, srv.BasicAuth())
	b, err := os.ReadFile(filepath.Join(final.Dir, "clusters/dev/apps/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < apps; i++ {
		if !strings.Contains(string(b), fmt.Sprintf("newName: registry.example/app%d", i)) || !strings.Contains(string(b), fmt.Sprintf("2.%d", i)) {
			t.Errorf("the deploy of app%d was lost:\n%s", i, b)
		}
	}
	log, _ := exec.Command("git", "--git-dir", srv.RepoDir("fleet"), "log", "--format=%s").Output()
	if n := strings.Count(string(log), "deploy dev: "); n != apps {
		t.Errorf("%d deploy commits, want %d:\n%s", n, apps, log)
	}
}
