output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = terraform_data.cluster.output.name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = "https://${var.name}.gr7.${var.region}.eks.example.test"
}

output "cluster_ca_certificate" {
  description = "Base64-encoded PEM certificate of the cluster's certificate authority."
  value       = base64encode("-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n")
}

output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA)."
  value       = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.${var.region}.example.test/id/FAKE"
}

output "oidc_issuer_url" {
  description = "URL of the cluster's OIDC issuer."
  value       = "https://oidc.eks.${var.region}.example.test/id/FAKE"
}

output "external_secrets_role_arn" {
  description = "ARN of the IAM role External Secrets Operator assumes (IRSA); empty without external_secrets."
  value       = var.external_secrets == null ? "" : terraform_data.external_secrets_role[0].output
}

output "tags" {
  description = "Tags on the cluster's resources, groundwork's included."
  value       = terraform_data.cluster.output.tags
}
