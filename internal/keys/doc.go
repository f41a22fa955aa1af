// Package keys keeps the private keys an environment cannot be rebuilt
// without (the SOPS age identity) outside the cluster, in a key store:
// a file readable by its owner only, or, for CI, an environment variable.
// A key is created once and never overwritten; a missing key is reported
// with exactly where it was expected.
package keys
