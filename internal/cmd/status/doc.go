// Package status is the status command: a read-only look at an
// environment, as text or one JSON document; exit status 1 when it is not
// healthy, so that CI can gate on it.
package status
