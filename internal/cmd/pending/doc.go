// Package pending holds the commands whose capability has not landed yet:
// gc. Each has its final usage and help, and
// fails with a clear "not implemented yet" error and exit status 2 until its
// capability lands in a package of its own.
package pending
