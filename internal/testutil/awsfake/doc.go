// Package awsfake is a local server speaking AWS Secrets Manager's JSON 1.1
// protocol over an in-memory map, for tests of the code that reads and
// writes Secrets Manager (groundwork's key store, External Secrets
// Operator's AWS provider): AWS cannot be reached from the tests.
package awsfake
