package actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/groundwork-dev/groundwork/internal/faults"
)

// JournalFile is the journal's file name inside the state directory.
const JournalFile = "journal.json"

// journalTemp names the journal's temporary files: written, then renamed
// over the journal.
const journalTemp = ".journal-*"

// StepState is the outcome of a step in the journal.
type StepState string

// Step states.
const (
	StateRunning StepState = "running"   // started, not finished: interrupted or crashed
	StateDone    StepState = "done"      // applied in this run
	StateSkipped StepState = "unchanged" // Check said it was already in place
	StateFailed  StepState = "failed"
)

// StepRecord is the journal's record of one step.
type StepRecord struct {
	State       StepState `json:"state"`
	Fingerprint string    `json:"fingerprint"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished,omitzero"`
	DurationMS  int64     `json:"duration_ms"`
	Error       string    `json:"error,omitempty"`
}

// Complete reports whether the step finished with these inputs.
func (r StepRecord) Complete(fingerprint string) bool {
	return (r.State == StateDone || r.State == StateSkipped) && r.Fingerprint == fingerprint
}

// Run is the journal's record of the last run of a command.
type Run struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Outcome is empty while the run is in progress (or was killed).
	Outcome string `json:"outcome,omitempty"`
}

// Journal is the record, kept in the state directory, of what the last runs
// did to an environment. It holds no secrets.
type Journal struct {
	Version int                   `json:"version"`
	Run     Run                   `json:"run"`
	Steps   map[string]StepRecord `json:"steps"`
	// Outputs are values steps hand to later steps and later runs, like
	// the kubeconfig path or the last seeded revision, by step name.
	Outputs map[string]map[string]string `json:"outputs,omitempty"`

	path string
}

// OpenJournal reads the journal in dir; a missing journal is an empty one.
// Nothing is written until Save.
func OpenJournal(dir string) (*Journal, error) {
	j := &Journal{Version: 1, Steps: map[string]StepRecord{}, Outputs: map[string]map[string]string{}, path: filepath.Join(dir, JournalFile)}
	b, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt (%v); move it away to start afresh", j.path, err)
	}
	if j.Version != 1 {
		return nil, fmt.Errorf("journal %s has version %d; this groundwork reads version 1", j.path, j.Version)
	}
	if j.Steps == nil {
		j.Steps = map[string]StepRecord{}
	}
	if j.Outputs == nil {
		j.Outputs = map[string]map[string]string{}
	}
	return j, nil
}

// Path is where the journal lives.
func (j *Journal) Path() string { return j.path }

// Save writes the journal atomically, readable by its owner only.
func (j *Journal) Save() error {
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	// A run killed between writing its temporary file and renaming it
	// left the file behind; the lock's holder is the journal's only
	// writer, so every other temporary file is such a leftover.
	if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(j.path), journalTemp)); len(stale) > 0 {
		for _, p := range stale {
			_ = os.Remove(p)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(j.path), journalTemp)
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	faults.Point("journal:save")
	return os.Rename(tmp.Name(), j.path)
}

// Output returns a value a step recorded.
func (j *Journal) Output(step, key string) (string, bool) {
	v, ok := j.Outputs[step][key]
	return v, ok
}

// SetOutput records a value for later steps and runs; saved with the
// journal.
func (j *Journal) SetOutput(step, key, value string) {
	if j.Outputs[step] == nil {
		j.Outputs[step] = map[string]string{}
	}
	j.Outputs[step][key] = value
}

// Interrupted reports whether the last run did not finish.
func (j *Journal) Interrupted() bool {
	return !j.Run.Started.IsZero() && j.Run.Outcome == ""
}
