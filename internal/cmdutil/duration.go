package cmdutil

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// durationValue is a duration flag read with the environment file's
// parser (spec.ParseDuration): "7d" is as good on the command line as in
// the file. Negative durations are refused, and zero too when positive.
type durationValue struct {
	p        *time.Duration
	positive bool
}

func (d durationValue) Set(s string) error {
	v, err := spec.ParseDuration(s)
	if err != nil {
		return err
	}
	switch {
	case v < 0:
		return fmt.Errorf("%s is negative", s)
	case v == 0 && d.positive:
		return fmt.Errorf("%s: must be more than zero", s)
	}
	*d.p = v
	return nil
}

func (d durationValue) String() string {
	if d.p == nil || *d.p == 0 {
		return "0" // pflag shows no default for it
	}
	return spec.FormatDuration(*d.p)
}
func (d durationValue) Type() string { return "duration" }

// DurationVar defines a duration flag that takes what environment files
// take ("90s", "30m", "2h", "7d").
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{p: p}, name, usage)
}

// PositiveDurationVar is DurationVar for a duration that must be more than
// zero, as the environment file's ttl (a ttl of 0 would make an instance
// expired from its start, for the next gc to delete).
func PositiveDurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{p: p, positive: true}, name, usage)
}
