package up

import (
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
