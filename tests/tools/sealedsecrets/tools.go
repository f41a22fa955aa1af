//go:build tools

// Package tools pins the Sealed Secrets controller used by the groundwork test harness.
package tools

import (
	_ "github.com/bitnami/sealed-secrets/cmd/controller"
)
