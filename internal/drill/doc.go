// Package drill is groundwork drill: a measured disaster-recovery
// rehearsal. It rebuilds an environment from Git and its key store into a
// scratch cluster (a kind cluster it makes, or one the user gives), with
// rebuild's own steps, never touching the live cluster and never
// committing; it then verifies the environment layer by layer as a user
// would (cluster, keys, reconciler, sources fetched, infrastructure, apps),
// measures each layer and the recovery time, and removes what it made,
// also when it fails or is interrupted. An expiry record in its state
// directory and in the scratch cluster lets gc catch what a killed drill
// left. The report is text, JSON or one self-contained HTML file.
package drill
