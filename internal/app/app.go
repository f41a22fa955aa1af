package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/groundwork-dev/groundwork/internal/buildinfo"
	"github.com/groundwork-dev/groundwork/internal/cmd/root"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
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
	if isUnknownCommand(err) {
		code = cmdutil.ExitUsage
	}
	var ee *cmdutil.ExitError
	if errors.As(err, &ee) && ee.Reported {
		return code
	}
	fmt.Fprintf(io.ErrOut, "Error: %v\n", err)
	if f.Globals.JSON() {
		_ = f.WriteJSON(map[string]any{"format_version": "1", "error": map[string]any{"message": err.Error(), "exit_code": code}})
	}
	return code
}

// isUnknownCommand recognises cobra's error for an unknown subcommand,
// which it returns before any of groundwork's error wrapping.
func isUnknownCommand(err error) bool {
	var ee *cmdutil.ExitError
	return !errors.As(err, &ee) && len(err.Error()) > 16 && err.Error()[:16] == "unknown command "
}
