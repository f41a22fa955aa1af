// Package status looks at an environment without changing it: whether its
// cluster answers, the reconciler's Helm release and workloads, the
// revision Flux fetched and what applied it, what is not ready, and
// whether the notification targets' last deliveries worked, as far as the
// reconciler records them. With External Secrets it reads the
// ClusterSecretStore groundwork applies (whether External Secrets Operator
// can reach and authenticate to Secrets Manager through it) and the
// ExternalSecrets of every namespace.
package status
