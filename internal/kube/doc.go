// Package kube connects to a cluster from a kubeconfig and applies objects
// to it with server-side apply, telling whether anything changed, so that
// steps can report "unchanged" on a converged environment.
package kube
