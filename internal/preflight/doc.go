// Package preflight runs a command's prerequisites before its first change:
// every check at once, side by side, each under its own deadline, and every
// unmet one reported together in one *Error. A CI job learns in seconds, and
// before a cluster is paid for, that a variable is unset and Docker is down,
// rather than one of them per run.
//
// The checks themselves belong to the commands (up builds its own from the
// environment); this package only runs them and shapes the result.
package preflight
