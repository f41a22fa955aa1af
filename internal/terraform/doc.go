// Package terraform drives the Terraform (or OpenTofu) CLI for the
// environments whose cluster groundwork provisions in a cloud (eks, gke,
// aks).
//
// Find locates terraform or tofu on PATH at MinVersion or later, or installs
// PinnedVersion with hc-install into groundwork's cache when none is found.
// A Driver runs one working directory through terraform-exec: init with a
// backend configuration file, workspace selection, plan (summarised from
// terraform-json), apply, output and destroy. Terraform's machine-readable
// UI is streamed as progress lines; its diagnostics are collected and
// returned in an *Error that renders them like groundwork's own HCL
// diagnostics, so the user sees the problem and the configuration it points
// at instead of a wall of text.
//
// RootModule renders the root module groundwork writes into the state
// directory (a call of one of the modules under modules/ with the
// environment's values) and the backend configuration from the
// environment's state block. EnsureS3Bucket bootstraps an s3 state bucket
// (versioning, encryption, public access blocked) with aws-sdk-go-v2.
package terraform
