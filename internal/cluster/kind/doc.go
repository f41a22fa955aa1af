// Package kind creates, finds and deletes local kind clusters through
// kind's Go API, from an environment's cluster "kind" block, and exports
// their kubeconfig into the environment's state directory (mode 0600).
//
// kind needs a running container runtime; Runtime checks that one answers
// (not merely that a client binary exists, which is all kind's own detection
// looks at) and says what to do when none does.
package kind
