package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
)

// Exit codes of a command stopped by a signal: 128 + the signal's number,
// as shells report it.
const (
	ExitInterrupted = 130 // SIGINT (Ctrl-C)
	ExitTerminated  = 143 // SIGTERM
)

// SignalError is the cause of a command's context cancelled by a signal.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return e.Signal.String() + " signal received" }

// TimeoutError is the cause of a command's context ended by --timeout.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.After) }

// StoppedError is the error of a command that was stopped, by a signal or
// by --timeout, while it ran. It replaces what the interrupted operation
// said (typically a cluster that "does not answer"), which is not the
// cause. Unwrap still reaches that error, and the step it ran in.
type StoppedError struct {
	// Cause is the context's cause: a *SignalError, a *TimeoutError, or
	// another error.
	Cause error
	// Step is the step that was running, "" when none was.
	Step string
	// Err is the error the operation returned when it was stopped.
	Err error
}

func (e *StoppedError) Error() string {
	msg := e.stopped()
	// What the stopped operation had found (the objects a wait was still
	// waiting for) says more than that it was stopped.
	var f interface{ Found() string }
	if errors.As(e.Err, &f) {
		msg += "; by then " + f.Found()
	}
	return msg
}

func (e *StoppedError) stopped() string {
	where := ""
	var w interface{ Where() string } // what stopped outside the steps (the preflight)
	switch {
	case e.Step != "":
		where = " in step " + e.Step
	case errors.As(e.Err, &w):
		where = " " + w.Where()
	}
	var te *TimeoutError
	if errors.As(e.Cause, &te) {
		return fmt.Sprintf("timed out after %s%s (--timeout)", te.After, where)
	}
	var se *SignalError
	if errors.As(e.Cause, &se) {
		return fmt.Sprintf("interrupted%s (%s)", where, se)
	}
	return fmt.Sprintf("interrupted%s (%v)", where, e.Cause)
}

func (e *StoppedError) Unwrap() error { return e.Err }

// ExitCode is 130 for SIGINT, 143 for SIGTERM, 1 otherwise (--timeout).
func (e *StoppedError) ExitCode() int {
	var se *SignalError
	if errors.As(e.Cause, &se) {
		switch se.Signal {
		case os.Interrupt:
			return ExitInterrupted
		case syscall.SIGTERM:
			return ExitTerminated
		}
	}
	return ExitFailure
}

// Stopped returns err as a *StoppedError when it is the failure of an
// operation stopped because ctx was cancelled or timed out, err itself
// otherwise (a failure of its own, also one that happened to come after).
func Stopped(ctx context.Context, err error) error {
	if err == nil || ctx == nil || ctx.Err() == nil {
		return err
	}
	var already *StoppedError
	if errors.As(err, &already) {
		return err
	}
	cause := context.Cause(ctx)
	if !causedBy(err, ctx.Err(), cause) {
		return err
	}
	s := &StoppedError{Cause: cause, Err: err}
	var se *actions.StepError
	if errors.As(err, &se) {
		s.Step = se.Step
	}
	return s
}

// causedBy reports whether err says the operation ended with its context:
// in its chain, or, from libraries that flatten errors to text, in its
// message.
func causedBy(err, ctxErr, cause error) bool {
	for _, c := range []error{ctxErr, cause, context.Canceled, context.DeadlineExceeded} {
		if c != nil && (errors.Is(err, c) || strings.Contains(err.Error(), c.Error())) {
			return true
		}
	}
	return false
}
