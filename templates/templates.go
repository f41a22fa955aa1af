package templates

import "embed"

// FS holds the templates, by engine: flux/...
//
//go:embed all:flux
var FS embed.FS
