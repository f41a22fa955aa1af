// Package tools is a tools-only module that pins the version of the Sealed
// Secrets controller built by the groundwork test harness (see
// tests/harness/testbin.go). The imports live in tools.go behind the "tools"
// build tag.
package tools
