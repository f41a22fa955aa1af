package cmdutil

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// durationValue is a duration flag read with the environment file's
// parser (spec.ParseDuration): "7d" is as good on the command line as in
// the file.
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := spec.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string {
	if *d == 0 {
		return "0" // pflag shows no default for it
	}
	return spec.FormatDuration(time.Duration(*d))
}
func (d *durationValue) Type() string { return "duration" }

// DurationVar defines a duration flag that takes what environment files
// take ("90s", "30m", "2h", "7d").
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}
