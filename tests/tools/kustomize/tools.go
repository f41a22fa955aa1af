//go:build tools

// Package tools pins the kustomize CLI that Argo CD's repo-server runs in the
// groundwork test harness.
package tools

import (
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
