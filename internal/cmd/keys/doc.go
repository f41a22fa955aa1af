// Package keys is the keys command group; keys rotate rotates an
// environment's age key with the cluster decrypting throughout.
package keys
