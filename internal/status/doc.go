// Package status looks at an environment without changing it: whether its
// cluster answers, the reconciler's Helm release and workloads, the
// revision Flux fetched and what applied it, and what is not ready.
package status
