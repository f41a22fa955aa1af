// Package engines picks the GitOps engine of an environment: the one place
// that reads gitops.engine.
package engines
