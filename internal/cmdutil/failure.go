package cmdutil

import (
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/failure"
	"github.com/groundwork-dev/groundwork/internal/preflight"
)

// FlagError is a flag cobra could not parse (unknown, missing value, bad
// value): a usage error, reported before the flags after it were read.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// SpecFileError is the error of an environment file with errors; its
// diagnostics were shown.
type SpecFileError struct{ Errors int }

func (e *SpecFileError) Error() string {
	return fmt.Sprintf("the environment file has %d error(s)", e.Errors)
}

// ErrorDoc is err as the "error" object of a failure document (nil for
// nil): its message, exit code, kind and, when it stopped a step, the step.
func ErrorDoc(err error) *failure.Doc {
	if err == nil {
		return nil
	}
	d := &failure.Doc{Message: err.Error(), ExitCode: ExitCode(err), Kind: failure.KindFailed}
	var stopped *StoppedError
	var sf *SpecFileError
	switch {
	case errors.As(err, &stopped):
		d.Kind = failure.KindInterrupted
		var te *TimeoutError
		if errors.As(stopped.Cause, &te) {
			d.Kind = failure.KindTimedOut
		}
	case errors.As(err, &sf):
		d.Kind = failure.KindEnvironmentFile
	case d.ExitCode == ExitUsage:
		d.Kind = failure.KindUsage
	}
	var pe *preflight.Error
	if d.Kind == failure.KindFailed && errors.As(err, &pe) {
		d.Kind = failure.KindPrerequisites
		for _, p := range pe.Problems {
			d.Problems = append(d.Problems, failure.Problem{What: p.What, Message: p.Err.Error()})
		}
	}
	var se *actions.StepError
	if errors.As(err, &se) {
		d.Step = se.Step
	}
	return d
}
