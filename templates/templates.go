package templates

import "embed"

// FS holds the templates, by engine: flux/..., argocd/...
//
//go:embed all:flux all:argocd
var FS embed.FS
