// Package keys is the keys command group; keys rotate rotates an
// environment's key: the SOPS age key with the cluster decrypting
// throughout, or the Sealed Secrets sealing key, kept in the key store
// before the cluster gets it.
package keys
