//go:build tools

// Package tools pins Flux's helm-controller used by the groundwork test harness.
package tools

import (
	_ "github.com/fluxcd/helm-controller"
)
