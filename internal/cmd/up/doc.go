// Package up is the up command: it takes the environment's lock, runs the
// steps of package up through the engine with progress on the error
// stream, and reports the outcome as text or one JSON document.
package up
