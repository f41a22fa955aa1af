// Package deploy is the deploy command: ship new image references by
// committing them to the GitOps repository, racing pipelines included.
package deploy
