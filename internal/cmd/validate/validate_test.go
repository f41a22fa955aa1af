package validate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdValidate(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"a.hcl", "b.hcl"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Files, ",") != "a.hcl,b.hcl" {
		t.Fatalf("files: %v", got.Files)
	}
	cmd = NewCmdValidate(f, nil)
	cmd.SetArgs(nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Fatalf("no file: exit %d, want 2", code)
	}
}

func files(t *testing.T) (good, bad string) {
	dir := t.TempDir()
	good, bad = filepath.Join(dir, "good.hcl"), filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte(`variable "url" { type = string }
environment "good" {
  cluster "kind" {}
  gitops {
    repository { url = var.url }
  }
}`), 0o644)
	os.WriteFile(bad, []byte(`environment "bad" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
    sync { intervall = "1m" }
  }
  ephemeral { ttl = "soon" }
}`), 0o644)
	return good, bad
}

func TestValidateText(t *testing.T) {
	good, bad := files(t)
	f, s := cmdtest.NewFactory("GROUNDWORK_VAR_url=https://github.com/acme/fleet.git")
	if err := Run(&Options{F: f, Files: []string{good}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Out.String(), good+`: valid: environment "good": kind cluster, flux (chart flux2 2.17.0), sops secrets`) {
		t.Fatalf("stdout: %s", s.Out.String())
	}

	f, s = cmdtest.NewFactory("GROUNDWORK_VAR_url=https://github.com/acme/fleet.git")
	err := Run(&Options{F: f, Files: []string{good, bad}})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("exit %d, want 2", cmdutil.ExitCode(err))
	}
	stderr := s.ErrOut.String()
	for _, want := range []string{
		bad + `:5:12: error: Unsupported argument`, `Did you mean "interval"?`,
		bad + `:7:21: error: Invalid duration`, "2 error(s), 0 warning(s).",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	good, bad := files(t)
	f, s := cmdtest.NewFactory("GROUNDWORK_VAR_url=https://github.com/acme/fleet.git")
	f.Globals.Output = cmdutil.OutputJSON
	err := Run(&Options{F: f, Files: []string{good, bad}})
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("exit %d", cmdutil.ExitCode(err))
	}
	var doc Document
	if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s.Out.String())
	}
	if doc.Valid || doc.ErrorCount != 2 || len(doc.Files) != 2 || !doc.Files[0].Valid || doc.Files[1].Valid {
		t.Fatalf("document: %+v", doc)
	}
	d := doc.Files[1].Diagnostics[0]
	if d.Range == nil || d.Range.Start.Line != 5 || d.Range.Start.Column != 12 || !strings.Contains(d.Snippet, "intervall") {
		t.Fatalf("diagnostic: %+v", d)
	}
	if s.ErrOut.Len() != 0 {
		t.Fatalf("JSON mode writes nothing on stderr: %s", s.ErrOut.String())
	}
}
