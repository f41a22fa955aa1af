package plan

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdPlan(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/dev.hcl", "--detailed-exitcode"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "environments/dev.hcl" || !got.DetailedExitCode {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdPlan(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl", "--ephemeral", "--ttl", "1d"})
	if err := cmd.Execute(); err != nil || !got.Ephemeral || got.TTL != 24*time.Hour {
		t.Fatalf("--ephemeral --ttl 1d: %+v %v", got, err)
	}
	cmd = NewCmdPlan(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs([]string{"a.hcl", "b.hcl"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Fatalf("two files: exit %d, want 2", code)
	}
}

func writeSpec(t *testing.T) string {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev.hcl")
	src := `environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDetailedExitCode(t *testing.T) {
	path := writeSpec(t)
	f, s := cmdtest.NewFactory()
	err := Run(&Options{F: f, Offline: true, File: path, DetailedExitCode: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitChanges {
		t.Fatalf("fresh environment: %v, want exit 3", err)
	}
	if !strings.Contains(s.Out.String(), "7 steps, 7 to run") {
		t.Fatalf("stdout:\n%s", s.Out.String())
	}
	if s.ErrOut.Len() != 0 {
		t.Fatalf("a valid file must print nothing on stderr: %s", s.ErrOut.String())
	}

	// Record every step done in the default state dir, as up would.
	stateDir := filepath.Join(filepath.Dir(path), ".groundwork", "dev")
	res := spec.Load(path, spec.Options{})
	j, _ := actions.OpenJournal(stateDir)
	for _, d := range plan.Build(res.Env, plan.Options{StateDir: stateDir}).Steps {
		j.Steps[d.Name] = actions.StepRecord{State: actions.StateDone, Fingerprint: d.Fingerprint}
	}
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	f, s = cmdtest.NewFactory()
	if err := Run(&Options{F: f, Offline: true, File: path, DetailedExitCode: true}); err != nil {
		t.Fatalf("converged environment: %v, want exit 0", err)
	}
	if !strings.Contains(s.Out.String(), "up will only check them") {
		t.Fatalf("stdout:\n%s", s.Out.String())
	}
}

func TestJSONOutput(t *testing.T) {
	path := writeSpec(t)
	f, s := cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	f.Globals.StateDir = t.TempDir()
	if err := Run(&Options{F: f, Offline: true, File: path}); err != nil {
		t.Fatal(err)
	}
	var doc plan.JSON
	if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, s.Out.String())
	}
	if doc.Environment != "dev" || doc.Pending != 7 || doc.Steps[0].Name != "cluster" || doc.Steps[0].Status != plan.StatusPending {
		t.Fatalf("document: %+v", doc)
	}
}

func TestSpecErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(path, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "nope" }
  }
}`), 0o644)

	f, s := cmdtest.NewFactory()
	err := Run(&Options{F: f, Offline: true, File: path})
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != cmdutil.ExitUsage || !ee.Reported {
		t.Fatalf("want a reported usage error, got %v", err)
	}
	if !strings.Contains(s.ErrOut.String(), path+":4:24: error: Invalid repository URL") {
		t.Fatalf("stderr lacks file:line:col:\n%s", s.ErrOut.String())
	}
	if s.Out.Len() != 0 {
		t.Fatalf("no plan may be printed for an invalid file:\n%s", s.Out.String())
	}

	f, s = cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	Run(&Options{F: f, Offline: true, File: path})
	var doc cmdutil.SpecErrorDocument
	if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil || doc.Valid || len(doc.Diagnostics) != 1 || doc.Diagnostics[0].Range.Start.Line != 4 {
		t.Fatalf("JSON error document: %v %+v", err, doc)
	}
}

// TestPlanOfAnInstance: with --name-suffix (and --ephemeral for a file
// without an ephemeral block) plan shows the instance up makes: its name,
// repository folder, kubeconfig in its state directory, and it reads that
// instance's journal. It showed the un-suffixed environment and read its
// journal.
func TestPlanOfAnInstance(t *testing.T) {
	path := writeSpec(t)
	dir := filepath.Dir(path)
	// The base environment's journal says everything is done; the
	// instance has never run.
	base, err := actions.OpenJournal(filepath.Join(dir, ".groundwork", "dev"))
	if err != nil {
		t.Fatal(err)
	}
	f, s := cmdtest.NewFactory()
	f.Globals.NameSuffix = "pr-7"
	res := f.LoadSpec(path)
	p := plan.Build(res.Env, plan.Options{StateDir: filepath.Join(dir, ".groundwork", "dev")})
	for _, st := range p.Steps {
		base.Steps[st.Name] = actions.StepRecord{State: actions.StateDone, Fingerprint: st.Fingerprint}
	}
	if err := base.Save(); err != nil {
		t.Fatal(err)
	}
	if err := Run(&Options{F: f, Offline: true, File: path, Ephemeral: true, TTL: time.Hour}); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	out := s.Out.String()
	for _, want := range []string{`Plan for environment "dev-pr-7"`, "expires 1h after up", "clusters/dev-pr-7", filepath.Join(dir, ".groundwork", "dev-pr-7", "kubeconfig"), "8 steps, 8 to run"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"dev"`) || strings.Contains(out, "done in the last run") {
		t.Errorf("the plan shows the base environment or its journal:\n%s", out)
	}
	// No suffix: up would pick a random one; plan says which it planned.
	f, s = cmdtest.NewFactory()
	if err := Run(&Options{F: f, Offline: true, File: path, Ephemeral: true, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if e := s.ErrOut.String(); !strings.Contains(e, "up would pick a random suffix") || !strings.Contains(e, "up --name-suffix ") {
		t.Errorf("stderr: %s", e)
	}
}
