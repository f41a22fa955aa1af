// Package kustomization reads and edits kustomize's kustomization.yaml the
// way groundwork needs to live beside a user's: it adds entries to a user's
// resources list with a minimal edit that keeps comments and order (kyaml),
// and lists what Flux's kustomize-controller would apply from a folder that
// has no kustomization.yaml of its own.
package kustomization
