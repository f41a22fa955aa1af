//go:build tools

// Package tools pins the helm CLI that Argo CD's repo-server runs in the
// groundwork test harness.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
