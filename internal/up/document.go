package up

import (
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/failure"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Document is up's JSON output.
type Document struct {
	FormatVersion     string     `json:"format_version"`
	Environment       string     `json:"environment"`
	Succeeded         bool       `json:"succeeded"`
	Changed           bool       `json:"changed"`
	Kubeconfig        string     `json:"kubeconfig,omitempty"`
	Server            string     `json:"server,omitempty"`
	KubernetesVersion string     `json:"kubernetes_version,omitempty"`
	Revision          string     `json:"revision,omitempty"`
	Expires           *time.Time `json:"expires,omitempty"`
	TookMS            int64      `json:"took_ms"`
	Steps             []StepDoc  `json:"steps"`
	Error             *ErrorDoc  `json:"error,omitempty"`
	// RTOMS is rebuild's recovery time: from its start until everything
	// Git declares was applied and healthy.
	RTOMS int64 `json:"rto_ms,omitempty"`
	// Custody is whether Git and the key store agree, as the seed step
	// (up) or the check before anything (rebuild) found.
	Custody *custody.Report `json:"custody,omitempty"`
}

// StepDoc is one step in Document.
type StepDoc struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	TookMS int64  `json:"took_ms"`
}

// ErrorDoc is the failure in Document: the shape of every failure.
type ErrorDoc = failure.Doc

// NewDocument is the JSON document of a run of up's steps (rebuild's too);
// fail is the failure (cmdutil.ErrorDoc), nil when the run succeeded.
func NewDocument(env *spec.Environment, run *Run, result *actions.Result, fail *ErrorDoc) Document {
	d := Document{FormatVersion: "1", Environment: env.Name, Succeeded: fail == nil, Steps: []StepDoc{},
		Kubeconfig: run.Kubeconfig, KubernetesVersion: run.ServerVersion, Revision: run.Revision, Error: fail, Custody: run.Custody}
	if c := run.Client(); c != nil {
		d.Server = c.Config.Host
	}
	if !run.Expires.IsZero() {
		d.Expires = &run.Expires
	}
	if result != nil {
		d.Changed, d.TookMS = result.Changed(), result.Took.Milliseconds()
		for _, s := range result.Steps {
			d.Steps = append(d.Steps, StepDoc{Name: s.Name, State: string(s.State), TookMS: s.Took.Milliseconds()})
		}
	}
	return d
}
