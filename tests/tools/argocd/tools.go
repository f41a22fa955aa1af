//go:build tools

// Package tools pins Argo CD, whose multi-call binary (cmd) is used by the
// groundwork test harness as argocd-application-controller and
// argocd-repo-server.
package tools

import (
	_ "github.com/argoproj/argo-cd/v3/cmd"
)
