// Package health says why workloads are not ready: for each Deployment,
// StatefulSet and DaemonSet of a set of manifests, its ready replicas, and
// for its pods the failing conditions, the reasons containers wait, and the
// latest warning events, so that a timeout is reported as what is wrong
// rather than as an expired deadline.
package health
