// Package helm installs and upgrades the charts groundwork itself puts into
// a cluster (the reconciler, the secrets integration) with the Helm SDK:
// action objects over an injected action.Configuration.
//
// Ensure is idempotent: a release already deployed with the same chart
// version and values is left alone, without downloading anything. A release
// left pending by an interrupted run is recovered. When workloads do not
// become ready in time, the error names each object that is not ready and
// why (conditions, events), never just "context deadline exceeded".
package helm
