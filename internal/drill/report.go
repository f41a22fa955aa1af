package drill

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/failure"
)

// Layer states.
const (
	StatePassed     = "passed"
	StateFailed     = "failed"
	StateRunning    = "running"
	StateNotReached = "not_reached"
)

// Report is the drill's outcome: its JSON document (--output json), and
// what the text and HTML reports show.
type Report struct {
	FormatVersion string `json:"format_version"`
	Environment   string `json:"environment"`
	// Instance is the drill's name: its kind cluster's, its expiry
	// record's.
	Instance string    `json:"instance"`
	Target   string    `json:"target"`
	Revision string    `json:"revision,omitempty"`
	Started  time.Time `json:"started"`
	Expires  time.Time `json:"expires,omitzero"`
	Passed   bool      `json:"passed"`
	// RTOMS is the recovery time: from the drill's start until the last
	// layer was ready (absent when a layer failed).
	RTOMS int64 `json:"rto_ms,omitempty"`
	// TookMS is the whole drill, the removal included.
	TookMS      int64         `json:"took_ms"`
	FailedLayer Layer         `json:"failed_layer,omitempty"`
	Layers      []LayerResult `json:"layers"`
	Removal     *Removal      `json:"removal,omitempty"`
	Error       *failure.Doc  `json:"error,omitempty"`
}

// LayerResult is one layer's outcome.
type LayerResult struct {
	Name  Layer  `json:"name"`
	State string `json:"state"`
	// StartMS is when the layer started, from the drill's start.
	StartMS int64        `json:"start_ms"`
	TookMS  int64        `json:"took_ms"`
	Steps   []StepResult `json:"steps,omitempty"`
	Objects []Object     `json:"objects"`
	Error   string       `json:"error,omitempty"`
}

// StepResult is a rebuild step the layer ran.
type StepResult struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	TookMS int64  `json:"took_ms"`
}

// Object is an object Git declares, with its health in the scratch
// cluster.
type Object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// File is the repository file that declares it.
	File    string `json:"file,omitempty"`
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
	// Stalled says waiting longer will not help.
	Stalled bool `json:"-"`
}

func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Removal is what the drill removed after itself.
type Removal struct {
	Done   bool     `json:"done"`
	TookMS int64    `json:"took_ms"`
	Left   []string `json:"left,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	verdict := "passed"
	if !r.Passed {
		verdict = "FAILED at layer " + string(r.FailedLayer)
		if r.FailedLayer == "" {
			verdict = "FAILED"
		}
	}
	fmt.Fprintf(w, "Drill of %s %s (on %s", r.Environment, verdict, r.Target)
	if r.Revision != "" {
		fmt.Fprintf(w, ", from %s", r.Revision)
	}
	fmt.Fprintln(w, ").")
	if r.Passed {
		fmt.Fprintf(w, "Recovery time: %s (from the start of the drill until every layer was ready)\n", ms(r.RTOMS))
	}
	for _, l := range r.Layers {
		ready := 0
		for _, o := range l.Objects {
			if o.Ready {
				ready++
			}
		}
		took := ms(l.TookMS)
		if l.State == StateNotReached {
			took = "-"
		}
		line := fmt.Sprintf("  %-15s %8s  %-11s", l.Name, took, l.State)
		if len(l.Objects) > 0 {
			line += fmt.Sprintf(" %d/%d ready", ready, len(l.Objects))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if l.Error != "" {
			fmt.Fprintf(w, "      %s\n", l.Error)
		}
	}
	if rm := r.Removal; rm != nil {
		if rm.Done {
			fmt.Fprintf(w, "Removed what the drill made in %s.\n", ms(rm.TookMS))
		} else {
			fmt.Fprintf(w, "Could not remove everything the drill made: %s\n", rm.Error)
		}
	}
}

func ms(n int64) string {
	d := time.Duration(n) * time.Millisecond
	if d < time.Second {
		return d.String()
	}
	return d.Round(100 * time.Millisecond).String()
}
