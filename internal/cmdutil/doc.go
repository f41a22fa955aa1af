// Package cmdutil holds what every command shares: the Factory handed to
// command constructors, the I/O streams, the global options, exit codes and
// the errors that carry them, and loading an environment file with the
// global variable options.
package cmdutil
