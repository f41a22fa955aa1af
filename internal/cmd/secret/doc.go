// Package secret is the secret command group; secret set commits a
// SOPS-encrypted Secret to the environment's GitOps repository.
package secret
