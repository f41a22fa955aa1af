// Package drill is the drill command: a disaster-recovery rehearsal of an
// environment into a scratch cluster (kind, or --kubeconfig/--context),
// measured per layer, reported as text, JSON and an HTML page, and removed
// afterwards.
package drill
