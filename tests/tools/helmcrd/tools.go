//go:build tools

// Package tools pins controller-gen and the helm-controller API from which
// the harness generates the HelmRelease CRD (helm-controller itself cannot
// be had from the module proxy).
package tools

import (
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
