//go:build tools

// Package tools pins the Flux controllers used by the groundwork test harness.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
