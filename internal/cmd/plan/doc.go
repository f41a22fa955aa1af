// Package plan implements groundwork plan: the ordered steps up would run
// for an environment, each with what it creates or reads, touching nothing.
package plan
