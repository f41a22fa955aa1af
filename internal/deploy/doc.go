// Package deploy changes image references in an environment's manifests in
// the GitOps repository: kustomization images: entries, HelmRelease values
// (image strings and repository/tag pairs) and plain manifests' image:
// fields. It edits YAML nodes, so comments and order survive, and never
// touches SOPS-encrypted files.
package deploy
