// Package contract checks, without a Terraform registry or provider, that a
// Terraform module calls its child modules the way their pinned versions
// declare: every argument is a variable of the child, every required
// variable is set, every module.NAME.OUTPUT it reads is an output of the
// child, argument types convert to the variables' type constraints (object
// attributes included), provider version constraints across the module
// tree intersect, and every required_version admits the Terraform versions
// groundwork supports.
//
// The child modules come from a Source: the archives of the community
// modules kept beside the repository (each verified against the sha256
// pinned in Pinned), or the .terraform/modules tree that terraform init
// writes into a working directory. The modules/ test runs these checks over
// modules/eks, modules/gke and modules/aks, over the root modules groundwork
// renders for them, and over the fake eks module the tests use in their
// place.
package contract
