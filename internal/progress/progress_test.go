package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
)

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, false, true)
	d := actions.Description{Name: "cluster", Title: "Create the kind cluster"}
	r.StepStarted(d)
	r.StepFinished(d, actions.StateDone, 1500*time.Millisecond, nil)
	r.StepStarted(d)
	r.StepFinished(d, actions.StateSkipped, 3*time.Millisecond, nil)
	r.StepStarted(d)
	r.StepFinished(d, actions.StateFailed, time.Second, errors.New("no container runtime"))
	want := ` • Create the kind cluster ...
 ✓ Create the kind cluster (1.5s)
 • Create the kind cluster ...
 ✓ Create the kind cluster (unchanged, 3ms)
 • Create the kind cluster ...
 ✗ Create the kind cluster (1s)
   no container runtime
`
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatal("plain output must not redraw lines")
	}
}

func TestSpinnerOnTerminal(t *testing.T) {
	var buf bytes.Buffer // the Reporter serialises its writes; read after the spinner stopped
	r := New(&buf, true, false)
	d := actions.Description{Name: "seed", Title: "Seed the GitOps repository"}
	r.StepStarted(d)
	time.Sleep(250 * time.Millisecond)
	r.StepFinished(d, actions.StateDone, 250*time.Millisecond, nil)
	out := buf.String()
	if !strings.Contains(out, "\r\x1b[2K ⠋ Seed the GitOps repository") {
		t.Fatalf("no spinner frame in %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[2K ✓ Seed the GitOps repository (250ms)\n") {
		t.Fatalf("spinner line not replaced by the result: %q", out)
	}
}

// TestSpinnerShowsElapsed: past showElapsedAfter, the spinner line says how
// long the step has run.
func TestSpinnerShowsElapsed(t *testing.T) {
	saved := showElapsedAfter
	showElapsedAfter = 0
	defer func() { showElapsedAfter = saved }()
	var buf bytes.Buffer
	r := New(&buf, true, false)
	d := actions.Description{Name: "cluster", Title: "Create the cluster"}
	r.StepStarted(d)
	time.Sleep(1100 * time.Millisecond)
	r.StepFinished(d, actions.StateDone, time.Second, nil)
	if out := buf.String(); !strings.Contains(out, "Create the cluster (1s elapsed)") {
		t.Fatalf("no elapsed time on the spinner line: %q", out)
	}
}

// TestOneRoundingRule: every duration by one rule; a step under a
// millisecond was printed as 579.569µs beside another's 6ms.
func TestOneRoundingRule(t *testing.T) {
	for d, want := range map[time.Duration]string{
		579569 * time.Nanosecond:  "1ms",
		200 * time.Microsecond:    "0ms",
		6 * time.Millisecond:      "6ms",
		999 * time.Millisecond:    "999ms",
		1234 * time.Millisecond:   "1.2s",
		59940 * time.Millisecond:  "59.9s",
		123456 * time.Millisecond: "2m3s",
		3*time.Hour + time.Second: "3h0m1s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
	var buf bytes.Buffer
	r := New(&buf, false, false)
	d := actions.Description{Name: "x", Title: "Check"}
	r.StepFinished(d, actions.StateSkipped, 579569*time.Nanosecond, nil)
	if out := buf.String(); strings.Contains(out, "µs") || !strings.Contains(out, "(unchanged, 1ms)") {
		t.Errorf("%q", out)
	}
}
