// Package spectest makes environments for tests from a few words: an
// environment on an existing cluster, with a repository and an engine.
package spectest
