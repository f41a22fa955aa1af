// Package secret writes Kubernetes Secrets into the GitOps repository,
// encrypted for the environment's secrets provider: with SOPS for the age
// recipients of the environment's .sops.yaml, or sealed as a SealedSecret
// for the latest Sealed Secrets key pair in the key store (its public
// certificate: no cluster needed). Values go from memory to ciphertext:
// never to disk, logs or the commit message.
package secret
