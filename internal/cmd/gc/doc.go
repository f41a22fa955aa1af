// Package gc is the gc command: delete the expired instances of ephemeral
// environments.
package gc
