package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/diag"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/failure"
	"github.com/groundwork-dev/groundwork/internal/progress"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Exit codes, documented in README.md.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2 // bad flags, arguments or environment file
	ExitChanges = 3 // plan --detailed-exitcode: changes pending
	// ExitInterrupted and ExitTerminated: see stopped.go.
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// IOStreams are the command's standard streams: results go to Out,
// progress and diagnostics to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY is true when ErrOut is a terminal (spinners, colour).
	ErrTTY bool
	// ErrWidth is ErrOut's width in columns (0: unknown).
	ErrWidth int
}

// SystemIO returns the process's streams.
func SystemIO() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if fd := int(os.Stderr.Fd()); term.IsTerminal(fd) {
		s.ErrTTY = true
		if w, _, err := term.GetSize(fd); err == nil {
			s.ErrWidth = w
		}
	}
	return s
}

// GlobalOptions are the flags every command takes.
type GlobalOptions struct {
	Vars     []string
	VarFiles []string
	Output   string
	Yes      bool
	Timeout  time.Duration
	Verbose  bool
	StateDir string
	// NameSuffix names the instance of an ephemeral environment.
	NameSuffix string
}

// JSON reports whether --output json was asked for.
func (g *GlobalOptions) JSON() bool { return g.Output == OutputJSON }

// Factory is what command constructors are given.
type Factory struct {
	IO      *IOStreams
	Globals *GlobalOptions
	// Environ is the process environment (GROUNDWORK_VAR_*, env()).
	Environ func() []string
	// Version is groundwork's own version string.
	Version string

	onExit []func()
	// wroteJSON is true once a JSON document was written to Out.
	wroteJSON bool
}

// WroteJSON reports whether the command wrote its JSON document (a
// failure's included); when it did not, the failure document is written
// for it.
func (f *Factory) WroteJSON() bool { return f.wroteJSON }

// OnExit registers fn to run when the command finishes.
func (f *Factory) OnExit(fn func()) { f.onExit = append(f.onExit, fn) }

// Exit runs the functions registered with OnExit, last first.
func (f *Factory) Exit() {
	for i := len(f.onExit) - 1; i >= 0; i-- {
		f.onExit[i]()
	}
	f.onExit = nil
}

// LoadSpec loads the environment file at path with the global variable
// options.
func (f *Factory) LoadSpec(path string) *spec.Result {
	return spec.Load(path, spec.Options{Vars: f.Globals.Vars, VarFiles: f.Globals.VarFiles, Environ: f.Environ()})
}

// Instantiate makes an ephemeral environment the instance --name-suffix
// (or the CI run) names; create allows a random suffix (up). Other
// environments are left as they are.
func (f *Factory) Instantiate(env *spec.Environment, create bool) error {
	if env.Ephemeral == nil && f.Globals.NameSuffix != "" {
		// An instance made with up --ephemeral from a file without an
		// ephemeral block.
		env.Ephemeral = &spec.Ephemeral{}
	}
	if env.Ephemeral == nil || env.Ephemeral.Suffix != "" {
		return nil
	}
	suffix, ok := spec.InstanceSuffix(f.Globals.NameSuffix, f.Environ(), create)
	if !ok {
		return UsageError("environment %s is ephemeral: say which instance with --name-suffix (up printed it), or run inside the CI job that created it", env.Name)
	}
	return env.Instance(suffix)
}

// StateDir is the state directory of env: --state-dir when given, else
// .groundwork/<environment> next to the environment file.
func (f *Factory) StateDir(env *spec.Environment) string {
	return facts.StateDir(env, f.Globals.StateDir)
}

// RemoveStateRoot removes the folder of the default state directories
// (.groundwork next to the environment file) when it is empty: after a run
// that left no state of env (down, or a refused command). --state-dir's
// parent is the user's and stays.
func (f *Factory) RemoveStateRoot(env *spec.Environment) {
	if f.Globals.StateDir == "" {
		_ = os.Remove(filepath.Dir(f.StateDir(env))) // fails when not empty
	}
}

// WriteJSON writes v to Out as one indented JSON document.
func (f *Factory) WriteJSON(v any) error {
	enc := json.NewEncoder(f.IO.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	f.wroteJSON = true
	return enc.Encode(v)
}

// ExitError is an error with the exit code it must produce.
type ExitError struct {
	Code int
	Err  error
	// Reported is true when the error was already shown to the user
	// (diagnostics), so main prints nothing more.
	Reported bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is a bad flag or argument: exit code 2.
func UsageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ErrNotImplemented marks commands whose capability has not landed yet.
var ErrNotImplemented = errors.New("not implemented yet")

// NotImplemented is the error of a command whose capability lands later:
// exit code 2, with what to use meanwhile.
func NotImplemented(command, meanwhile string) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("groundwork %s: %w in this version of groundwork. %s", command, ErrNotImplemented, meanwhile)}
}

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	// Stopped first: a command interrupted while it failed for that
	// reason exits 130, whatever it returned.
	var se *StoppedError
	if errors.As(err, &se) {
		return se.ExitCode()
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// ExactArgs requires exactly n positional arguments, failing with a usage
// error (exit 2) that names the arguments the command takes.
func ExactArgs(n int) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return ArgsError(cmd, args)
		}
		return nil
	}
}

// MinArgs requires at least n positional arguments.
func MinArgs(n int) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return ArgsError(cmd, args)
		}
		return nil
	}
}

// ArgsError is the usage error of a command given the wrong arguments: what
// it takes (from its Use line), what it got, and what is missing, like
// "secret set takes FILE NAMESPACE/NAME key=value...; got 1 argument
// (dev.hcl): NAMESPACE/NAME and key=value... are missing".
func ArgsError(cmd *cobra.Command, args []string) error {
	names := ArgNames(cmd)
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	got := "got no arguments"
	switch len(args) {
	case 0:
	case 1:
		got = fmt.Sprintf("got 1 argument (%s)", args[0])
	default:
		got = fmt.Sprintf("got %d arguments (%s)", len(args), strings.Join(args, " "))
	}
	msg := fmt.Sprintf("%s takes %s; %s", name, strings.Join(names, " "), got)
	if len(args) < len(names) {
		missing := names[len(args):]
		verb := "is"
		if len(missing) > 1 {
			verb = "are"
		}
		msg += fmt.Sprintf(": %s %s missing", strings.Join(missing, " and "), verb)
	}
	return UsageError("%s; usage: %s", msg, cmd.UseLine())
}

// ArgNames are the positional arguments of cmd's Use line ("FILE",
// "NAMESPACE/NAME", "key=value..."), flags left out.
func ArgNames(cmd *cobra.Command) []string {
	var names []string
	for _, f := range strings.Fields(cmd.Use)[1:] {
		if strings.HasPrefix(f, "-") || strings.HasPrefix(f, "[") {
			break
		}
		names = append(names, f)
	}
	return names
}

// WriteDiagnostics renders diagnostics on the error stream, with source
// snippets, wrapped to the terminal.
func (f *Factory) WriteDiagnostics(res *spec.Result) error {
	width := uint(f.IO.ErrWidth)
	if width == 0 {
		width = 100
	}
	return diag.WriteText(f.IO.ErrOut, res.Files, res.Diags, width, f.IO.ErrTTY)
}

// SpecError is the error of an environment file with errors, after its
// diagnostics were written: exit code 2.
func SpecError(res *spec.Result) error {
	n := 0
	for _, d := range res.Diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return &ExitError{Code: ExitUsage, Reported: true, Err: &SpecFileError{Errors: n}}
}

// SpecErrorDocument is the JSON document of a command whose environment
// file has errors: the failure document, its error's diagnostics also at
// the top level (as before the one failure shape).
type SpecErrorDocument struct {
	FormatVersion string            `json:"format_version"`
	Valid         bool              `json:"valid"`
	Diagnostics   []diag.Diagnostic `json:"diagnostics"`
	Error         *failure.Doc      `json:"error"`
}

// LoadInstance loads the environment file, shows its diagnostics
// (ReportSpec), and names an ephemeral environment's instance from
// --name-suffix or the CI run (Instantiate), as every command but up and
// plan, which may pick a new one, does first.
func (f *Factory) LoadInstance(file string) (*spec.Environment, error) {
	res := f.LoadSpec(file)
	if err := f.ReportSpec(res); err != nil {
		return nil, err
	}
	if err := f.Instantiate(res.Env, false); err != nil {
		return nil, err
	}
	return res.Env, nil
}

// ReportSpec shows the diagnostics of a loaded environment file on the
// error stream; when the file has errors it also writes, under --output
// json, a SpecErrorDocument to Out, and returns SpecError.
func (f *Factory) ReportSpec(res *spec.Result) error {
	if err := f.WriteDiagnostics(res); err != nil {
		return err
	}
	if !res.Diags.HasErrors() {
		return nil
	}
	if f.Globals.JSON() {
		err := SpecError(res)
		ds := diag.ToJSON(res.Files, res.Diags)
		e := ErrorDoc(err)
		e.Diagnostics = ds
		if werr := f.WriteJSON(SpecErrorDocument{FormatVersion: "1", Valid: false, Diagnostics: ds, Error: e}); werr != nil {
			return werr
		}
		return err
	}
	return SpecError(res)
}

// Acquire takes the environment's lock for command, waiting up to timeout
// for another run (0: fail at once).
func Acquire(ctx context.Context, dir, command string, timeout time.Duration, rep *progress.Reporter) (*actions.Lock, error) {
	holder := fmt.Sprintf("pid %d, groundwork %s, since %s", os.Getpid(), command, time.Now().UTC().Format(time.RFC3339))
	lock, err := actions.AcquireLock(ctx, dir, holder, false)
	var le *actions.LockedError
	if !errors.As(err, &le) || timeout == 0 {
		return lock, err
	}
	rep.Printf("Waiting up to %s for the other run on this environment to finish (%s)...", timeout, le.Holder)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return actions.AcquireLock(wctx, dir, holder, true)
}
