package failure

import "github.com/groundwork-dev/groundwork/internal/diag"

// Kinds of failure: what went wrong, for programs to branch on.
const (
	// KindUsage: bad flags, arguments or options, or a command not
	// implemented yet (exit 2).
	KindUsage = "usage"
	// KindEnvironmentFile: the environment file has errors; they are in
	// Diagnostics (exit 2).
	KindEnvironmentFile = "environment_file"
	// KindFailed: the command failed while it ran (exit 1).
	KindFailed = "failed"
	// KindInterrupted: stopped by a signal (exit 130 for SIGINT, 143 for
	// SIGTERM).
	KindInterrupted = "interrupted"
	// KindTimedOut: stopped by --timeout (exit 1).
	KindTimedOut = "timed_out"
	// KindPrerequisites: prerequisites are not met; they are in Problems,
	// and nothing was changed (exit 1).
	KindPrerequisites = "prerequisites"
)

// Doc is the "error" object of every failure document.
type Doc struct {
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	ExitCode int    `json:"exit_code"`
	// Step is the step that failed, for commands that run steps (up,
	// rebuild); absent when it failed before the first.
	Step string `json:"step,omitempty"`
	// Diagnostics are the environment file's problems (KindEnvironmentFile).
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
	// Problems are the unmet prerequisites (KindPrerequisites), every one
	// of them.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is an unmet prerequisite: what (Docker, key store, GitOps
// repository) and why, with how to meet it.
type Problem struct {
	What    string `json:"what"`
	Message string `json:"message"`
}

// Document is the failure document of a command that has no result of its
// own to show.
type Document struct {
	FormatVersion string `json:"format_version"`
	Error         *Doc   `json:"error"`
}
