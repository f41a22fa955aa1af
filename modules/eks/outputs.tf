output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "cluster_ca_certificate" {
  description = "Base64-encoded PEM certificate of the cluster's certificate authority."
  value       = module.eks.cluster_certificate_authority_data
}

output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA)."
  value       = module.eks.oidc_provider_arn
}

output "oidc_issuer_url" {
  description = "URL of the cluster's OIDC issuer."
  value       = module.eks.cluster_oidc_issuer_url
}

output "external_secrets_role_arn" {
  description = "ARN of the IAM role External Secrets Operator assumes (IRSA); empty without external_secrets."
  value       = var.external_secrets == null ? "" : aws_iam_role.external_secrets[0].arn
}

output "tags" {
  description = "Tags on the cluster's resources, groundwork's included."
  value       = local.tags
}
