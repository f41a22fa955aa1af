// Package sealtest makes sealing key pairs for tests: RSA 2048 (the
// controller's and groundwork's RSA 4096 takes seconds to generate) with a
// self-signed certificate starting at a given time.
package sealtest
