// Package render turns an environment into the files groundwork keeps in
// the GitOps repository, from the embedded templates (package templates).
//
// Every file lies under the environment's path in the repository, so that
// groundwork never touches anything else there. Files are of two kinds:
// managed files, which groundwork rewrites to match the spec, and seed
// files (templates named *.once.tmpl), written only when missing and then
// left to the user.
package render
