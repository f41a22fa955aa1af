// Package failure is the one JSON shape of a failure: every command that
// fails under --output json writes a document with a top-level "error"
// object of this shape (beside the command's own result fields, when it has
// any), flag and argument errors included.
package failure
