//go:build tools

// Package tools pins the External Secrets Operator used by the groundwork test harness.
package tools

import (
	_ "github.com/external-secrets/external-secrets"
)
