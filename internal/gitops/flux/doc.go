// Package flux points Flux at the GitOps repository and waits until it has
// applied a revision: the sync objects groundwork applies are the very ones
// it commits (flux-system/sync.yaml), and the wait asks the controllers to
// reconcile as soon as a dependency is ready instead of sitting out their
// requeue intervals.
package flux
