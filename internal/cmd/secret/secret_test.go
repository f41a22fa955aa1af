package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *SetOptions
	cmd := NewCmdSet(f, func(o *SetOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl", "shop/db", "user=app", "password=-"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "dev.hcl" || got.Secret != "shop/db" || strings.Join(got.Pairs, " ") != "user=app password=-" {
		t.Fatalf("options: %+v", got)
	}
}

func TestParseData(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	data, err := ParseData([]string{"a=plain", "b=@" + file, "c=-", "d=x=y"}, strings.NewReader("from-stdin\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "plain", "b": "from-file\n", "c": "from-stdin", "d": "x=y"}
	for k, v := range want {
		if string(data[k]) != v {
			t.Errorf("%s = %q, want %q", k, data[k], v)
		}
	}
	for _, bad := range [][]string{{"novalue"}, {"a=-", "b=-"}, {"a=1", "a=2"}, {"bad key=1"}, {"a=@/nonexistent"}} {
		if _, err := ParseData(bad, strings.NewReader("")); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
