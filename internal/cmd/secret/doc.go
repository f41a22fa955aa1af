// Package secret is the secret command group; secret set commits a Secret
// to the environment's GitOps repository, SOPS-encrypted or sealed as a
// SealedSecret as the environment's secrets provider wants.
package secret
