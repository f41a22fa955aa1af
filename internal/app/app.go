package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/internal/cmd/root"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/failure"
)

// Main runs groundwork with the process's arguments and returns the exit
// status.
func Main() int {
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cmdutil.SystemIO(), os.Args[1:], os.Environ)
}

// signalContext is cancelled by the first of the signals, with a
// *cmdutil.SignalError naming it as the cause (what says "interrupted" and
// picks exit status 130 or 143); stop stops catching them.
func signalContext(sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(&cmdutil.SignalError{Signal: s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// Run runs groundwork with the given arguments and returns the exit status;
// errors are printed on the error stream (and, under --output json, as a
// JSON document on the output stream).
func Run(ctx context.Context, io *cmdutil.IOStreams, args []string, environ func() []string) int {
	f := &cmdutil.Factory{IO: io, Globals: &cmdutil.GlobalOptions{}, Environ: environ, Version: buildinfo.Get().Version}
	cmd := root.NewCmdRoot(f)
	cmd.SetArgs(args)
	cmd.SetContext(ctx)
	c, err := cmd.ExecuteC()
	if c != nil && c.Context() != nil {
		// The command's context: --timeout's deadline is there.
		ctx = c.Context()
	}
	err = cmdutil.Stopped(ctx, err)
	f.Exit()
	if err == nil {
		return cmdutil.ExitOK
	}
	code := cmdutil.ExitCode(err)
	var fe *cmdutil.FlagError
	unparsed := errors.As(err, &fe)
	if isUnknownCommand(err) {
		code, unparsed = cmdutil.ExitUsage, true
		err = &cmdutil.ExitError{Code: code, Err: err}
	}
	if unparsed && !f.Globals.JSON() && askedForJSON(args) {
		// Parsing stopped at the bad flag, before --output json after it.
		f.Globals.Output = cmdutil.OutputJSON
	}
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || !ee.Reported {
		fmt.Fprintf(io.ErrOut, "Error: %v\n", err)
	}
	if f.Globals.JSON() && !f.WroteJSON() {
		// Every failure under --output json is one document of the one
		// shape (README.md, "JSON output").
		_ = f.WriteJSON(failure.Document{FormatVersion: "1", Error: cmdutil.ErrorDoc(err)})
	}
	return code
}

// askedForJSON reports whether args hold --output json (or -o json,
// --output=json, -o=json, -ojson) before a lone "--".
func askedForJSON(args []string) bool {
	json := false
	for i, a := range args {
		switch {
		case a == "--":
			return json
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				json = args[i+1] == cmdutil.OutputJSON
			}
		case strings.HasPrefix(a, "--output="), strings.HasPrefix(a, "-o="):
			json = a[strings.Index(a, "=")+1:] == cmdutil.OutputJSON
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			json = a[2:] == cmdutil.OutputJSON
		}
	}
	return json
}

// isUnknownCommand recognises cobra's error for an unknown subcommand,
// which it returns before any of groundwork's error wrapping.
func isUnknownCommand(err error) bool {
	var ee *cmdutil.ExitError
	return !errors.As(err, &ee) && len(err.Error()) > 16 && err.Error()[:16] == "unknown command "
}
