package rebuild

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdRebuild(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/existing.hcl", "--dry-run", "--lock-timeout", "0s", "--plain-http-charts"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "environments/existing.hcl" || !got.DryRun || got.LockTimeout != 0 || !got.PlainHTTPCharts {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdRebuild(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl"})
	if err := cmd.Execute(); err != nil || got.DryRun || got.LockTimeout != 10*time.Minute {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

// TestDryRunSaysWhatTheEngineDeclares: rebuild --dry-run of an Argo CD
// environment names the Applications Git declares, as Applications (it
// called them "kustomizations" before the engine interface).
func TestDryRunSaysWhatTheEngineDeclares(t *testing.T) {
	bare, url := gittest.Bare(t)
	file, pem := spectest.EnvFile(t, t.TempDir(), url, spec.EngineArgoCD)
	res := spec.Load(file, spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	// The environment as up left it: its sealing key stored, its files in
	// Git.
	if err := os.MkdirAll(filepath.Dir(pem), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sealing.Create(pem, sealtest.MustPair(t, time.Now())); err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(res.Env, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seeded := map[string]string{}
	for _, f := range files {
		seeded[f.Path] = string(f.Data)
	}
	gittest.Commit(t, bare, "main", seeded)

	f, io := cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	f.Globals.StateDir = t.TempDir()
	if err := Run(context.Background(), &Options{F: f, File: file, DryRun: true}); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	var doc struct {
		Declared struct {
			Kind  string   `json:"kind"`
			Names []string `json:"names"`
		} `json:"declared"`
		Kustomizations any `json:"kustomizations"`
	}
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, io.Out)
	}
	if doc.Declared.Kind != "Application" || !slices.Contains(doc.Declared.Names, "dev-root") || !slices.Contains(doc.Declared.Names, "argocd") || doc.Kustomizations != nil {
		t.Errorf("dry run of an Argo CD environment:\n%s", io.Out)
	}

	f, io = cmdtest.NewFactory()
	f.Globals.StateDir = t.TempDir()
	if err := Run(context.Background(), &Options{F: f, File: file, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(io.Out.String(), "and wait for the Applications Git declares: ") || strings.Contains(io.Out.String(), "Kustomization") {
		t.Errorf("dry run text:\n%s", io.Out)
	}
}
