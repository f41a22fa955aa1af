// Package down is the down command: it shows what it will delete, asks for
// --yes before anything destructive, takes the environment's lock and
// deletes through package down.
package down
