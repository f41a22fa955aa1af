// Package buildinfo tells which groundwork this is: the version and commit
// stamped at build time with -ldflags, or read from the module build info
// for a plain go install.
package buildinfo
