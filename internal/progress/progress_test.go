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
