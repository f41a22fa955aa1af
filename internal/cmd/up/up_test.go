package up

import (
	"reflect"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
)

// Behaviour (options → cluster) is proven on the harness in tests/e2e.
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *Options
	cmd := NewCmdUp(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"environments/dev.hcl", "--lock-timeout", "30s", "--plain-http-charts"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "environments/dev.hcl" || got.LockTimeout != 30*time.Second || !got.PlainHTTPCharts {
		t.Fatalf("options: %+v", got)
	}
	cmd = NewCmdUp(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"dev.hcl"})
	if err := cmd.Execute(); err != nil || got.LockTimeout != 10*time.Minute || got.PlainHTTPCharts {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

func TestAdoptFileFlag(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"dev.hcl"}, nil},
		{[]string{"dev.hcl", "--adopt-file", "a", "--adopt-file", "b"}, []string{"a", "b"}},
		// One path a flag: a comma is part of the path, not a separator.
		{[]string{"dev.hcl", "--adopt-file=clusters/dev/a,b.yaml"}, []string{"clusters/dev/a,b.yaml"}},
	}
	for _, c := range cases {
		f, _ := cmdtest.NewFactory()
		var got *Options
		cmd := NewCmdUp(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if !reflect.DeepEqual(got.AdoptFiles, c.want) {
			t.Errorf("%v: AdoptFiles %q, want %q", c.args, got.AdoptFiles, c.want)
		}
	}
}

// TestTTLTakesTheFilesSyntax: --ttl reads durations as the environment
// file's ttl does ("7d" in HCL, so 1d here); it refused 1d.
func TestTTLTakesTheFilesSyntax(t *testing.T) {
	for arg, want := range map[string]time.Duration{"1d": 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute} {
		f, _ := cmdtest.NewFactory()
		var got *Options
		cmd := NewCmdUp(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs([]string{"dev.hcl", "--ephemeral", "--ttl", arg, "--lock-timeout", "1d"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("--ttl %s: %v", arg, err)
		}
		if got.TTL != want || got.LockTimeout != 24*time.Hour {
			t.Errorf("--ttl %s: %v, lock timeout %v", arg, got.TTL, got.LockTimeout)
		}
	}
}
