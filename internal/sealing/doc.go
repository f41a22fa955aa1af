// Package sealing keeps the Sealed Secrets controller's sealing key pair
// outside the cluster: groundwork generates it before the controller is
// installed, stores it in the key store, and hands it to the controller as
// its active key, so that SealedSecrets committed before a disaster still
// decrypt after a rebuild.
package sealing
