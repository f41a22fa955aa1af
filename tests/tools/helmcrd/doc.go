// Package tools is a tools-only module that pins controller-gen and the
// helm-controller API module used by the groundwork test harness (see
// tests/harness/helmcrd.go). The imports live in tools.go behind the "tools"
// build tag.
package tools
