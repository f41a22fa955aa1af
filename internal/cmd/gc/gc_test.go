package gc

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdGC(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"a.hcl", "b.hcl", "--dry-run"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != 2 || got.Files[1] != "b.hcl" || !got.DryRun {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdGC(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs(nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Errorf("no file: exit %d", code)
	}
}

// TestNothingToCollect: an ephemeral environment with no instance in its
// state root is nothing to collect, said as an empty JSON list (the
// deletions themselves are proven on the harness: tests/e2e).
func TestNothingToCollect(t *testing.T) {
	f, io := cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	file := filepath.Join("..", "..", "..", "environments", "ci-ephemeral.hcl")
	if err := Run(context.Background(), &Options{F: f, Files: []string{file}, DryRun: true}); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	var doc struct {
		DryRun    bool  `json:"dry_run"`
		Instances []any `json:"instances"`
	}
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil || !doc.DryRun || len(doc.Instances) != 0 {
		t.Fatalf("%v %+v\n%s", err, doc, io.Out)
	}
}

// TestNotEphemeral: gc of a file with no ephemeral block (and no instances
// made with up --ephemeral) says that it is not ephemeral; it said nothing.
func TestNotEphemeral(t *testing.T) {
	f, io := cmdtest.NewFactory()
	f.Globals.StateDir = t.TempDir()
	file := filepath.Join("..", "..", "..", "environments", "local.hcl")
	if err := Run(context.Background(), &Options{F: f, Files: []string{file}, DryRun: true}); err != nil {
		t.Fatalf("%v\n%s", err, io.ErrOut)
	}
	if e := io.ErrOut.String(); !strings.Contains(e, file+": environment local is not ephemeral") {
		t.Errorf("stderr: %s", e)
	}
	f, io = cmdtest.NewFactory()
	f.Globals.StateDir, f.Globals.Output = t.TempDir(), cmdutil.OutputJSON
	if err := Run(context.Background(), &Options{F: f, Files: []string{file, filepath.Join("..", "..", "..", "environments", "ci-ephemeral.hcl")}, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		NotEphemeral []string `json:"not_ephemeral"`
	}
	if err := json.Unmarshal(io.Out.Bytes(), &doc); err != nil || len(doc.NotEphemeral) != 1 || doc.NotEphemeral[0] != file {
		t.Errorf("%v %s", err, io.Out)
	}
}
