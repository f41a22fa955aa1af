// Package up holds the steps of groundwork up, in the order plan shows
// them: cluster, kubeconfig, reconciler, secrets, seed, sync, expiry, wait.
// Each step is idempotent; the engine runs them, journals them and resumes
// after an interruption. Steps share what earlier steps learnt (the
// cluster client, the age identity, the seeded revision) through Run.
package up
