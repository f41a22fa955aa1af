//go:build tools

// Package tools pins Flux's notification-controller used by the groundwork test harness.
package tools

import (
	_ "github.com/fluxcd/notification-controller"
)
