//go:build tools

// Package tools pins the sops CLI and age-keygen used by the groundwork test
// harness to produce SOPS-encrypted manifests for Flux decryption tests.
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)
