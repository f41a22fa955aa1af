// Package rebuild is the rebuild command: after a preflight that touches
// nothing (the key is in the key store, the repository holds the
// environment), it brings the environment back from Git and prints the
// recovery time achieved with a per-step breakdown.
package rebuild
