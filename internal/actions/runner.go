package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/faults"
)

// Reporter is told about progress; implementations draw spinners or print
// lines (see package progress).
type Reporter interface {
	StepStarted(d Description)
	StepFinished(d Description, state StepState, took time.Duration, err error)
}

// StepError is the error of a step that failed; it names the step so the
// user knows where the run stopped and that running again resumes there.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Runner runs steps in order and journals them.
type Runner struct {
	Command  string
	Journal  *Journal
	Reporter Reporter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is the outcome of every step that ran, in order.
type Result struct {
	Steps []StepResult
	Took  time.Duration
}

// StepResult is one step's outcome.
type StepResult struct {
	Name  string
	State StepState
	Took  time.Duration
}

// Changed reports whether any step applied a change.
func (r *Result) Changed() bool {
	for _, s := range r.Steps {
		if s.State == StateDone {
			return true
		}
	}
	return false
}

// Run runs steps in order: for each, Check, and Apply when not done. It stops
// at the first failure (or cancellation) and returns a *StepError; the
// journal then shows where to resume, and running again resumes because
// every completed step checks done.
func (r *Runner) Run(ctx context.Context, steps []Step) (*Result, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	res := &Result{}
	if r.Journal != nil {
		r.Journal.Run = Run{Command: r.Command, Started: start}
		if err := r.Journal.Save(); err != nil {
			return res, err
		}
	}
	finish := func(outcome string) error {
		res.Took = now().Sub(start)
		if r.Journal == nil {
			return nil
		}
		r.Journal.Run.Finished, r.Journal.Run.Outcome = now(), outcome
		return r.Journal.Save()
	}
	for _, s := range steps {
		d := s.Plan()
		if err := ctx.Err(); err != nil {
			_ = finish("interrupted")
			return res, &StepError{Step: d.Name, Err: err}
		}
		state, took, err := r.runStep(ctx, s, d, now)
		res.Steps = append(res.Steps, StepResult{Name: d.Name, State: state, Took: took})
		if err != nil {
			outcome := "failed"
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				outcome = "interrupted"
			}
			_ = finish(outcome)
			return res, &StepError{Step: d.Name, Err: err}
		}
	}
	return res, finish("succeeded")
}

func (r *Runner) runStep(ctx context.Context, s Step, d Description, now func() time.Time) (StepState, time.Duration, error) {
	started := now()
	if r.Reporter != nil {
		r.Reporter.StepStarted(d)
	}
	rec := StepRecord{State: StateRunning, Fingerprint: d.Fingerprint, Started: started}
	if err := r.record(d.Name, rec); err != nil {
		return StateFailed, 0, err
	}
	faults.Point("step:" + d.Name)
	state := StateSkipped
	status, err := s.Check(ctx)
	if err == nil && !status.Done {
		state = StateDone
		err = s.Apply(ctx)
		if errors.Is(err, NoChange) {
			state, err = StateSkipped, nil
		}
		faults.Point("step:" + d.Name + ":applied")
	}
	if err != nil {
		state = StateFailed
		rec.Error = err.Error()
	}
	took := now().Sub(started)
	rec.State, rec.Finished, rec.DurationMS = state, now(), took.Milliseconds()
	if jerr := r.record(d.Name, rec); jerr != nil && err == nil {
		err = jerr
	}
	if r.Reporter != nil {
		r.Reporter.StepFinished(d, state, took, err)
	}
	return state, took, err
}

func (r *Runner) record(name string, rec StepRecord) error {
	if r.Journal == nil {
		return nil
	}
	r.Journal.Steps[name] = rec
	return r.Journal.Save()
}

// Pending lists the descriptions of steps the journal does not show as
// completed with the same inputs: what the next run would have to do, as far
// as this machine's records know.
func Pending(j *Journal, ds []Description) []Description {
	var out []Description
	for _, d := range ds {
		if j == nil || !j.Steps[d.Name].Complete(d.Fingerprint) {
			out = append(out, d)
		}
	}
	return out
}
