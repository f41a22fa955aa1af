// Package sealing keeps the Sealed Secrets controller's sealing keys
// outside the cluster: groundwork generates the first key pair before the
// controller is installed, keeps it and every later one in the key store
// (a file, oldest first, only ever appended to), and hands them all to the
// controller as active key Secrets, so that SealedSecrets committed before
// a disaster still decrypt after a rebuild. The controller's own automatic
// renewal stays off (its keys would never reach the store); keys rotate
// renews on purpose, and a key found in the cluster that the store lacks is
// appended to the store (Rescue).
package sealing
