output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = module.gke.name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = "https://${module.gke.endpoint}"
  sensitive   = true
}

output "cluster_ca_certificate" {
  description = "Base64-encoded PEM certificate of the cluster's certificate authority."
  value       = module.gke.ca_certificate
  sensitive   = true
}

output "location" {
  description = "Region or zone of the cluster."
  value       = module.gke.location
}

output "project" {
  description = "Google Cloud project of the cluster."
  value       = var.project
}

output "workload_identity_pool" {
  description = "Workload Identity pool of the cluster (PROJECT.svc.id.goog)."
  value       = module.gke.identity_namespace
}

output "external_secrets_service_account" {
  description = "Email of the Google service account External Secrets Operator impersonates; empty without external_secrets."
  value       = var.external_secrets == null ? "" : google_service_account.external_secrets[0].email
}

output "tags" {
  description = "Labels on the cluster, groundwork's included."
  value       = local.labels
}
