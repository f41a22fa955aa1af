// Package awsauth loads the AWS configuration groundwork's AWS clients use
// (the default credential chain: environment, shared config and profile,
// SSO, instance roles), with the SDK's own logging silenced, and turns the
// absence of credentials into one error that says how to get them, as
// Terraform's s3 backend does, rather than the SDK's chain of causes.
package awsauth
