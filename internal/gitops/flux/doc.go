// Package flux is Flux as a gitops.Engine: it points Flux at the GitOps
// repository with the sync objects groundwork commits
// (groundwork/sync.yaml), waits until Flux has applied a revision (asking
// the controllers to reconcile as soon as a dependency is ready instead of
// sitting out their requeue intervals), says whether Flux owns its own Helm
// release (its HelmRelease in Git), retires the Kustomizations of an older
// layout, detaches Flux from a cluster without pruning what it applied, and
// reads the notification targets' failed deliveries.
package flux
