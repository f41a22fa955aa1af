package version

import (
	"encoding/json"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdVersion(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got == nil || got.Info.GoVersion == "" {
		t.Fatalf("options: %+v %v", got, err)
	}
	cmd = NewCmdVersion(f, func(*Options) error { t.Fatal("must not run"); return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if code := cmdutil.ExitCode(cmd.Execute()); code != cmdutil.ExitUsage {
		t.Errorf("an argument: exit %d", code)
	}
}

func TestRunTextAndJSON(t *testing.T) {
	info := buildinfo.Info{Version: "v1.2.3", Commit: "abc1234", GoVersion: "go1.26.0", Platform: "linux/amd64"}
	f, io := cmdtest.NewFactory()
	if err := Run(&Options{F: f, Info: info}); err != nil {
		t.Fatal(err)
	}
	if want := "groundwork v1.2.3 commit abc1234 (go1.26.0, linux/amd64)\n"; io.Out.String() != want {
		t.Errorf("text %q, want %q", io.Out.String(), want)
	}
	f, io = cmdtest.NewFactory()
	f.Globals.Output = cmdutil.OutputJSON
	if err := Run(&Options{F: f, Info: info}); err != nil {
		t.Fatal(err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(io.Out.Bytes(), &got); err != nil || got != info {
		t.Errorf("JSON %s: %v", io.Out, err)
	}
}
