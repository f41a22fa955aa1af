// Package tools is a tools-only module that pins the version of the
// kustomize CLI built by the groundwork test harness for Argo CD's
// repo-server (see tests/harness/testbin.go). The imports live in tools.go
// behind the "tools" build tag.
package tools
