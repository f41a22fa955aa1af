package cmdtest

import (
	"bytes"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

// Streams are the buffers behind a test Factory.
type Streams struct {
	Out, ErrOut *bytes.Buffer
}

// NewFactory returns a Factory writing to buffers, with the given process
// environment.
func NewFactory(environ ...string) (*cmdutil.Factory, Streams) {
	s := Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	f := &cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: s.Out, ErrOut: s.ErrOut},
		Globals: &cmdutil.GlobalOptions{Output: cmdutil.OutputText},
		Environ: func() []string { return environ },
		Version: "test",
	}
	return f, s
}
