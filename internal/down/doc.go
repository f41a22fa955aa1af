// Package down deletes what up created: the kind cluster; an eks, gke or
// aks cluster with terraform destroy, in the state and workspace up used;
// for an existing cluster (which groundwork does not own) only the
// reconciler when asked; the environment's folder in the GitOps repository
// when asked; and the local state. The age key stays in its key store:
// deleting it would make the repository's secrets unreadable forever.
package down
