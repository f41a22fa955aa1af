// Package gitrepo writes an environment's files into its GitOps repository
// with go-git: clone, write only under the environment's folder, commit only
// when something changed, push; when the remote moved meanwhile, apply the
// same change on top of its new head and push again (never force).
package gitrepo
