package keys

import (
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
)

// Behaviour is proven on the harness (tests/e2e, TestRebuildAfterWipe).
func TestFlagsToOptions(t *testing.T) {
	f, _ := cmdtest.NewFactory()
	var got *RotateOptions
	cmd := NewCmdRotate(f, func(o *RotateOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"prod.hcl", "--lock-timeout", "0"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.File != "prod.hcl" || got.LockTimeout != 0*time.Second {
		t.Fatalf("options: %+v", got)
	}
}
