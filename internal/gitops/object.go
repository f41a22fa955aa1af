package gitops

import (
	"fmt"
	"strings"
	"time"
)

// Object is the state of one object an engine syncs the cluster with Git
// by (a Flux GitRepository, Kustomization or HelmRelease, an Argo CD
// Application), as one look saw it.
type Object struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Missing bool   `json:"missing,omitempty"`
	// Revision is the revision the object applied (or fetched).
	Revision string `json:"revision,omitempty"`
	// Sync and Health are Argo CD's statuses of an Application (Synced,
	// OutOfSync; Healthy, Progressing, Degraded...).
	Sync   string `json:"sync,omitempty"`
	Health string `json:"health,omitempty"`
	// Reason and Message say why it is not ready: Flux's Ready condition,
	// Argo CD's health message.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Stale: ready, but for an older revision or spec than the awaited
	// one.
	Stale bool `json:"stale,omitempty"`
	// Details are further lines on what is wrong: conditions, the last
	// sync operation, resources not in sync or not healthy.
	Details []string `json:"details,omitempty"`
}

func (o Object) String() string {
	state := "not ready"
	if o.Sync != "" || o.Health != "" {
		state = orUnknown(o.Sync) + ", " + orUnknown(o.Health)
	}
	switch {
	case o.Missing:
		return fmt.Sprintf("%s %s does not exist yet", o.Kind, o.Name)
	case o.Ready && o.Sync != "":
		return fmt.Sprintf("%s %s: Synced and Healthy at %s", o.Kind, o.Name, o.Revision)
	case o.Ready:
		return fmt.Sprintf("%s %s: ready at %s", o.Kind, o.Name, o.Revision)
	}
	s := fmt.Sprintf("%s %s: %s", o.Kind, o.Name, state)
	if o.Reason != "" {
		s += " (" + o.Reason + ")"
	}
	if m := strings.TrimSpace(o.Message); m != "" {
		s += ": " + m
	}
	if o.Revision != "" {
		s += "; last applied " + o.Revision
	}
	if o.Stale {
		s += ", not yet compared at the awaited revision and spec"
	}
	for _, d := range o.Details {
		s += "\n      " + d
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// NotReadyError lists what had not applied the revision when a wait
// ended, and where to read more.
type NotReadyError struct {
	// Engine is the engine's name (Flux, Argo CD).
	Engine   string
	Revision string
	Waited   time.Duration
	Objects  []Object
	Err      error
	// Workloads are the engine's own workloads that were not ready when
	// the wait ended (Diagnoser), one line each.
	Workloads []string
	// Hint says where to read more (the controllers' logs).
	Hint string
}

func (e *NotReadyError) Error() string {
	return e.report(fmt.Sprintf(" (%v)", e.Err))
}

// Found is what the wait had found when it ended, without why it ended:
// a command stopped by --timeout or a signal says that itself.
func (e *NotReadyError) Found() string {
	if len(e.Objects) == 0 {
		// Nothing was seen (every look failed): the last error is
		// what there is to say.
		return e.report(fmt.Sprintf(" (%v)", e.Err))
	}
	return e.report("")
}

func (e *NotReadyError) report(cause string) string {
	lines := make([]string, len(e.Objects))
	for i, o := range e.Objects {
		lines[i] = "  " + o.String()
	}
	s := fmt.Sprintf("%s had not applied %s after %s%s:\n%s", e.Engine, e.Revision, e.Waited.Round(time.Second), cause, strings.Join(lines, "\n"))
	if len(e.Workloads) > 0 {
		s += fmt.Sprintf("\n%s's own workloads are not all ready:\n  %s", e.Engine, strings.Join(e.Workloads, "\n  "))
	}
	if e.Hint != "" {
		s += "\n" + e.Hint
	}
	return s
}

func (e *NotReadyError) Unwrap() error { return e.Err }
