// Package facts holds the environment-wide facts every command agrees on:
// where an environment's local files are (state directory, kubeconfig,
// journal, Terraform working directory) and the names of what groundwork
// creates for it in the cluster (Secrets, releases, the root Application,
// the managed-by label). It imports only spec, so that any package can
// learn a name without importing the package that acts on it.
package facts
