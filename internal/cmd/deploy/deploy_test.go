package deploy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

// Behaviour, racing deploys included, is proven on the harness (tests/e2e).
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdDeploy(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"prod.hcl", "--image", "a=r/a:1", "--image", "b=r/b:2", "--wait", "--message", "ship"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "prod.hcl" || strings.Join(got.Images, " ") != "a=r/a:1 b=r/b:2" || !got.Wait || got.Message != "ship" {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdDeploy(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs([]string{"prod.hcl"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Errorf("no --image: exit %d", code)
	}
}

// fakeEngine records the wait deploy --wait asks of the engine (the
// cluster's side is proven on the harness: tests/e2e).
type fakeEngine struct {
	gitops.Engine
	kind           string
	waitedRevision string
	waitedFor      []string
}

func (e *fakeEngine) Declared(files map[string][]byte) []string {
	var names []string
	for p := range files {
		if strings.HasSuffix(p, "/kustomization.yaml") {
			names = append(names, e.kind+":"+p)
		}
	}
	return names
}

func (e *fakeEngine) Wait(_ context.Context, revision string, required []string) error {
	e.waitedRevision, e.waitedFor = revision, required
	return nil
}

// TestDeployWaitsThroughTheEngine: deploy commits the new image to a real
// repository and, with --wait, waits through the environment's engine for
// the pushed revision and what Git declares (before the engine interface it
// polled Flux's GitRepository whatever the engine).
func TestDeployWaitsThroughTheEngine(t *testing.T) {
	bare, url := gittest.Bare(t)
	gittest.Commit(t, bare, "main", map[string]string{
		"clusters/dev/apps/web/kustomization.yaml": "resources:\n  - web.yaml\n",
		"clusters/dev/apps/web/web.yaml":           "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: registry.example/web:1.0\n",
	})
	file, _ := spectest.EnvFile(t, t.TempDir(), url, spec.EngineArgoCD)
	f, io := cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	fake := &fakeEngine{kind: "Application"}
	var engineOf string
	opts := &Options{F: f, File: file, Images: []string{"registry.example/web=registry.example/web:1.1"}, Wait: true,
		Engine: func(env *spec.Environment, _ string, _ func(context.Context, string, string) (bool, error)) (gitops.Engine, error) {
			engineOf = env.GitOps.Engine
			return fake, nil
		}}
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	var doc map[string]any
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	head := gittest.Head(t, bare, "main")
	if doc["applied"] != true || !strings.HasSuffix(fake.waitedRevision, head) || doc["revision"] != fake.waitedRevision {
		t.Errorf("deploy --wait waited for %q, pushed %v (head %s): %v", fake.waitedRevision, doc["revision"], head, doc)
	}
	if engineOf != "argocd" || len(fake.waitedFor) != 1 || fake.waitedFor[0] != "Application:clusters/dev/apps/web/kustomization.yaml" {
		t.Errorf("the wait was not the environment's engine's, for what Git declares: engine %q, %v", engineOf, fake.waitedFor)
	}
	if web := gittest.Git(t, bare, "show", "main:clusters/dev/apps/web/web.yaml"); !strings.Contains(web, "registry.example/web:1.1") {
		t.Errorf("the image was not committed:\n%s", web)
	}
}

// TestDeployRefusesInvalidReferences: a reference no registry could serve
// is a usage error (exit 2) and nothing is committed (they were pushed).
func TestDeployRefusesInvalidReferences(t *testing.T) {
	bare, url := gittest.Bare(t)
	gittest.Commit(t, bare, "main", map[string]string{
		"clusters/dev/apps/web/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0\n",
	})
	head := gittest.Head(t, bare, "main")
	file, _ := spectest.EnvFile(t, t.TempDir(), url, spec.EngineFlux)
	for _, img := range []string{"ghcr.io/acme/web=ghcr.io/acme/web:1 2", "ghcr.io/acme/web=ghcr.io/acme/web@sha256:abc"} {
		f, io := cmdtest.NewFactory()
		err := Run(context.Background(), &Options{F: f, File: file, Images: []string{img}})
		if code := cmdutil.ExitCode(err); code != cmdutil.ExitUsage {
			t.Errorf("%s: exit %d (%v), want %d", img, code, err, cmdutil.ExitUsage)
		}
		if now := gittest.Head(t, bare, "main"); now != head {
			t.Errorf("%s was committed: head %s, was %s\n%s", img, now, head, io.Out)
		}
	}
}

// TestDeployWithoutWaitSaysPushed: without --wait nothing has reached the
// cluster, so deploy says it pushed, not that it deployed.
func TestDeployWithoutWaitSaysPushed(t *testing.T) {
	bare, url := gittest.Bare(t)
	gittest.Commit(t, bare, "main", map[string]string{
		"clusters/dev/apps/web/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0\n",
	})
	file, _ := spectest.EnvFile(t, t.TempDir(), url, spec.EngineFlux)
	f, io := cmdtest.NewFactory()
	if err := Run(context.Background(), &Options{F: f, File: file, Images: []string{"ghcr.io/acme/web=ghcr.io/acme/web:1.1"}}); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	if out := io.Out.String(); !strings.HasPrefix(out, "Pushed ") || strings.Contains(out, "Deployed") {
		t.Errorf("deploy without --wait says:\n%s", out)
	}
}
