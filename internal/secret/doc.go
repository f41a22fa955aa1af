// Package secret writes Kubernetes Secrets into the GitOps repository,
// encrypted with SOPS for the age recipients of the environment's
// .sops.yaml. Values go from memory to ciphertext: never to disk, logs or
// the commit message.
package secret
