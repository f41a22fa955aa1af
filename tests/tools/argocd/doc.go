// Package tools is a tools-only module that pins the version of Argo CD built
// by the groundwork test harness (see tests/harness/testbin.go). It carries
// Argo CD's own replace block (from its go.mod), without which the module
// does not build. The imports live in tools.go behind the "tools" build tag.
package tools
