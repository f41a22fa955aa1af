// Package app is groundwork's entry point behind the thin main: it wires
// the real streams, environment and signals to the command tree, runs it and
// maps the outcome to an exit status.
package app
