package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one check: long enough for a container runtime's
// info or a credential chain's refresh, short of a hang.
const DefaultTimeout = 45 * time.Second

// Check is one prerequisite.
type Check struct {
	// What is checked, as its user names it: "Docker", "Git repository",
	// "key store".
	What string
	// Run returns nil when the prerequisite is met, else why not and how
	// to meet it. It must change nothing.
	Run func(ctx context.Context) error
}

// Problem is an unmet prerequisite.
type Problem struct {
	What string
	Err  error
}

// Error lists every unmet prerequisite, in the order of the checks.
type Error struct {
	// Command is the command that checked ("up").
	Command  string
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		p := e.Problems[0]
		return fmt.Sprintf("%s: %v", p.What, p.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d prerequisites of %s are not met:", len(e.Problems), e.Command)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  - %s: %s", p.What, strings.ReplaceAll(p.Err.Error(), "\n", "\n    "))
	}
	return b.String()
}

// Unwrap gives the problems' errors to errors.As and errors.Is.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Err
	}
	return out
}

// StoppedError is a preflight stopped by its context (Ctrl-C, --timeout),
// with the checks that had not answered.
type StoppedError struct {
	Waiting []string
	Err     error
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("%v %s", e.Err, e.Where())
}

// Where says what was stopped: "while checking the prerequisites (no
// answer yet from: GitOps repository)".
func (e *StoppedError) Where() string {
	if len(e.Waiting) == 0 {
		return "while checking the prerequisites"
	}
	return "while checking the prerequisites (no answer yet from: " + strings.Join(e.Waiting, ", ") + ")"
}

func (e *StoppedError) Unwrap() error { return e.Err }

// Run runs the checks side by side, each for at most timeout, and returns
// an *Error of the unmet ones, or nil. When ctx ends first (Ctrl-C,
// --timeout) it returns ctx's error: an interrupted check proves nothing.
func Run(ctx context.Context, command string, timeout time.Duration, checks []Check) error {
	errs := make([]error, len(checks))
	stopped := make([]bool, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := c.Run(cctx)
			stopped[i] = err != nil && ctx.Err() != nil // it answered only once ctx had ended
			if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s (%w)", timeout, err)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// What was still unanswered: what a timeout or Ctrl-C stopped.
		st := &StoppedError{Err: err}
		for i, c := range checks {
			if stopped[i] {
				st.Waiting = append(st.Waiting, c.What)
			}
		}
		return st
	}
	e := &Error{Command: command}
	said := map[string]int{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		// One cause that two checks meet (the GitOps repository's check
		// reads the key store too) is said once, naming both checks.
		if j, ok := said[err.Error()]; ok {
			e.Problems[j].What += ", " + checks[i].What
			continue
		}
		said[err.Error()] = len(e.Problems)
		e.Problems = append(e.Problems, Problem{What: checks[i].What, Err: err})
	}
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}
