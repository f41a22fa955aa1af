package cmdutil

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestDurationFlags: the environment file's syntax ("1d"); negative
// durations refused; zero refused where it must be positive (--ttl 0 would
// make an instance gc deletes at once); a count of days too large for a
// duration refused rather than wrapped around.
func TestDurationFlags(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var timeout, ttl time.Duration
	DurationVar(fs, &timeout, "timeout", 0, "")
	PositiveDurationVar(fs, &ttl, "ttl", 2*time.Hour, "")
	if err := fs.Parse([]string{"--ttl", "1d", "--timeout", "0"}); err != nil || ttl != 24*time.Hour || timeout != 0 {
		t.Fatalf("--ttl 1d --timeout 0: %v %s %s", err, ttl, timeout)
	}
	for _, args := range [][]string{{"--ttl", "0"}, {"--ttl", "-1h"}, {"--timeout", "-5m"}, {"--ttl", "110000d"}} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		DurationVar(fs, &timeout, "timeout", 0, "")
		PositiveDurationVar(fs, &ttl, "ttl", 2*time.Hour, "")
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
