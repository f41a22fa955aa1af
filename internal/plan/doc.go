// Package plan turns an environment into the ordered steps that up runs for
// it (state backend, cluster, kubeconfig, reconciler, secrets integration,
// repository seed, sync objects, expiry, health wait), each described with
// what it will create, read or wait for, and renders them for people and as
// JSON. Building a plan reads nothing but the spec and touches nothing.
package plan
