// Package spec reads and validates groundwork environment files.
//
// An environment file is HCL, shaped like Terraform: top-level "variable"
// blocks feed expressions, and exactly one "environment" block describes the
// cluster, its GitOps engine and repository, the secrets integration, the
// addons rendered into the repository, where the reconciler reports failed
// and recovered reconciles (notifications) and, for CI, an expiry. Load parses a
// file, evaluates its variables (defaults, GROUNDWORK_VAR_<name>, var files,
// --var in that order of precedence), decodes and validates the environment,
// and returns every problem found as hcl.Diagnostics, each anchored at the
// file, line and column it concerns and carrying a hint to fix it.
//
// The decoded Environment has every default filled in, so the smallest useful
// file (a kind cluster and a repository URL) means kind + Flux + SOPS/age.
package spec
