// Package gc finds ephemeral environments whose time-to-live has passed and
// deletes them: the instances of the given environment files (through their
// state directories), reading the expiry groundwork recorded in each
// cluster, so that gc needs neither the machine nor the run that created an
// instance. Instances of ephemeral eks environments are also found by the
// tags on their EKS clusters (groundwork-environment, groundwork-expires),
// even when no state directory is left (a CI runner that is gone); those
// are destroyed through Terraform when their state is in a shared backend.
package gc
