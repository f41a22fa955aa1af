//go:build tools

// Package tools pins the kwok version used by the groundwork test harness.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
