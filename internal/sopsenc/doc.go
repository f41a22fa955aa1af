// Package sopsenc encrypts Kubernetes manifests with SOPS for age
// recipients, in memory, with the sops library itself: the plaintext is
// never written anywhere, and the output is what the sops CLI writes for the
// repository's .sops.yaml (data and stringData encrypted).
package sopsenc
