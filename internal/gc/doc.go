// Package gc finds ephemeral environments whose time-to-live has passed and
// deletes them: the instances of the given environment files (through their
// state directories), and the kind clusters on this machine, reading the
// expiry groundwork recorded in each cluster, so that gc needs neither the
// machine nor the run that created an instance.
package gc
