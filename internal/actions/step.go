package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// Step is one unit of work of a command. Implementations must be idempotent:
// Apply may run again after an interruption at any point.
type Step interface {
	// Plan describes the step without touching anything.
	Plan() Description
	// Check reports whether the step's desired state is already in place.
	Check(ctx context.Context) (Status, error)
	// Apply brings the desired state about.
	Apply(ctx context.Context) error
}

// NoChange is returned by Apply when it found its desired state already in
// place: for steps whose check costs as much as the change itself (a clone,
// a server-side apply), Check may always report not done and leave the
// answer to Apply. The runner records the step as unchanged.
var NoChange = errors.New("no change needed")

// Description is what a step will do, for plan and for progress output.
type Description struct {
	// Name identifies the step in the journal; stable across versions.
	Name string `json:"name"`
	// Title is a short imperative sentence, like "Create the kind cluster".
	Title string `json:"title"`
	// Actions are the objects the step creates, changes, reads or waits for.
	Actions []Action `json:"actions"`
	// Fingerprint identifies the step's inputs: a step recorded done with
	// another fingerprint has to run again.
	Fingerprint string `json:"fingerprint"`
}

// Op is the kind of an action.
type Op string

// Operations of actions.
const (
	OpCreate Op = "create" // creates, or updates in place, what is missing or different
	OpRead   Op = "read"   // only reads
	OpWait   Op = "wait"   // waits for a condition
)

// Action is one thing a step acts on.
type Action struct {
	Op       Op     `json:"action"`
	Resource string `json:"resource"`
	Detail   string `json:"detail,omitempty"`
}

// Status is the answer of Check.
type Status struct {
	// Done is true when nothing needs to change.
	Done bool
	// Reason says why, for verbose output ("cluster dev exists").
	Reason string
}

// Fingerprint hashes any JSON-encodable inputs into a short stable string.
func Fingerprint(inputs any) string {
	b, err := json.Marshal(inputs)
	if err != nil {
		panic("actions: fingerprint inputs must encode as JSON: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
