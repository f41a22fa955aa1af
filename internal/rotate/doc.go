// Package rotate rotates an environment's key.
//
// SOPS: the age key, without a moment in which the cluster cannot
// decrypt: the cluster gets both keys, every SOPS file in the environment's
// folder is re-encrypted for both and committed, and only after Flux
// applied that revision is everything re-encrypted for the new key alone,
// committed, applied, and the old key retired. An interrupted rotation
// resumes with the same new key (kept beside the current one).
//
// Sealed Secrets: the sealing key is renewed, nothing re-encrypted: a new
// key pair goes into the key store first, then into the cluster as an
// active key; the controller seals new secrets with it and keeps every old
// key, so every SealedSecret in Git still decrypts.
package rotate
