// Package progress reports the steps of a run on the error stream: a spinner
// that is rewritten in place when the stream is a terminal, plain lines that
// log well otherwise (CI, pipes). It implements engine.Reporter.
package progress
