package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
)

// showElapsedAfter is how long a step runs before its spinner shows how
// long it has run (as Terraform's "Still creating... [10s elapsed]").
var showElapsedAfter = 5 * time.Second

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Reporter writes progress to w.
type Reporter struct {
	w       io.Writer
	tty     bool
	verbose bool

	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
}

// New returns a reporter; tty selects the spinner, verbose adds the reason
// a step was skipped and errors in full.
func New(w io.Writer, tty, verbose bool) *Reporter {
	return &Reporter{w: w, tty: tty, verbose: verbose}
}

// Printf writes a line of its own, clearing a spinner line first.
func (r *Reporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty && r.stop != nil {
		fmt.Fprint(r.w, "\r\x1b[2K")
	}
	fmt.Fprintf(r.w, format+"\n", args...)
}

// StepStarted implements actions.Reporter.
func (r *Reporter) StepStarted(d actions.Description) {
	if !r.tty {
		fmt.Fprintf(r.w, " • %s ...\n", d.Title)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopSpinner()
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.spin(d.Title, r.stop, r.done)
}

func (r *Reporter) spin(title string, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		line := title
		if e := time.Since(start); e >= showElapsedAfter {
			// A long step (a cloud cluster, a wait) says it is still going.
			line += fmt.Sprintf(" (%s elapsed)", e.Truncate(time.Second))
		}
		r.mu.Lock()
		fmt.Fprintf(r.w, "\r\x1b[2K %s %s", frames[i%len(frames)], line)
		r.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// stopSpinner ends the spinner goroutine; r.mu must be held and is
// released while waiting.
func (r *Reporter) stopSpinner() {
	if r.stop == nil {
		return
	}
	close(r.stop)
	done := r.done
	r.stop, r.done = nil, nil
	r.mu.Unlock()
	<-done
	r.mu.Lock()
	fmt.Fprint(r.w, "\r\x1b[2K")
}

// StepFinished implements actions.Reporter.
func (r *Reporter) StepFinished(d actions.Description, state actions.StepState, took time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty {
		r.stopSpinner()
	}
	switch {
	case err != nil:
		fmt.Fprintf(r.w, " ✗ %s (%s)\n", d.Title, Duration(took))
		if r.verbose {
			fmt.Fprintf(r.w, "   %v\n", err)
		}
	case state == actions.StateSkipped:
		fmt.Fprintf(r.w, " ✓ %s (unchanged, %s)\n", d.Title, Duration(took))
	default:
		fmt.Fprintf(r.w, " ✓ %s (%s)\n", d.Title, Duration(took))
	}
}

// Duration is how groundwork prints every duration it measured, by one
// rounding rule: whole milliseconds below a second ("0ms", "6ms", "580ms";
// never "579.569µs"), tenths of a second below a minute ("1.2s"), whole
// seconds above ("2m3s").
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
