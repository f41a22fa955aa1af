output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = module.aks.aks_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = module.aks.host
  sensitive   = true
}

output "cluster_ca_certificate" {
  description = "Base64-encoded PEM certificate of the cluster's certificate authority."
  value       = module.aks.cluster_ca_certificate
  sensitive   = true
}

output "location" {
  description = "Azure region of the cluster."
  value       = var.location
}

output "resource_group" {
  description = "Resource group of the cluster."
  value       = azurerm_resource_group.this.name
}

output "oidc_issuer_url" {
  description = "URL of the cluster's OIDC issuer (Workload Identity)."
  value       = module.aks.oidc_issuer_url
}

output "external_secrets_client_id" {
  description = "Client ID of the identity External Secrets Operator uses; empty without external_secrets."
  value       = var.external_secrets == null ? "" : azurerm_user_assigned_identity.external_secrets[0].client_id
}

output "tags" {
  description = "Tags on the cluster's resources, groundwork's included."
  value       = local.tags
}
