# Thin wrapper over the terraform-google-modules kubernetes-engine module: a
# subnetwork with secondary ranges for pods and services, a VPC-native GKE
# cluster with Workload Identity and autoscaled node pools, and the Google
# service account External Secrets Operator impersonates.

locals {
  labels   = merge(var.labels, { "groundwork-managed-by" = "groundwork" })
  regional = length(split("-", var.location)) == 2
  region   = local.regional ? var.location : join("-", slice(split("-", var.location), 0, 2))
}

resource "google_compute_subnetwork" "nodes" {
  project       = var.project
  name          = "${var.name}-nodes"
  region        = local.region
  network       = var.network
  ip_cidr_range = var.subnetwork_cidr

  secondary_ip_range {
    range_name    = "${var.name}-pods"
    ip_cidr_range = var.pods_cidr
  }
  secondary_ip_range {
    range_name    = "${var.name}-services"
    ip_cidr_range = var.services_cidr
  }
}

module "gke" {
  source  = "terraform-google-modules/kubernetes-engine/google"
  version = "36.3.0"

  project_id         = var.project
  name               = var.name
  regional           = local.regional
  region             = local.region
  zones              = local.regional ? [] : [var.location]
  kubernetes_version = var.kubernetes_version

  network           = var.network
  subnetwork        = google_compute_subnetwork.nodes.name
  ip_range_pods     = "${var.name}-pods"
  ip_range_services = "${var.name}-services"

  identity_namespace       = "enabled"
  remove_default_node_pool = true
  deletion_protection      = false

  node_pools = [
    for name, pool in var.node_pools : {
      name               = name
      machine_type       = pool.machine_type
      min_count          = pool.min_size
      initial_node_count = pool.desired_size
      max_count          = pool.max_size
      autoscaling        = true
    }
  ]
  node_pools_labels       = { for name, pool in var.node_pools : name => pool.labels }
  cluster_resource_labels = local.labels
}

resource "google_service_account" "external_secrets" {
  count = var.external_secrets == null ? 0 : 1

  project      = var.project
  account_id   = substr("${var.name}-eso", 0, 30)
  display_name = "External Secrets Operator of ${var.name}"
}

resource "google_project_iam_member" "external_secrets" {
  count = var.external_secrets == null ? 0 : 1

  project = var.project
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:${google_service_account.external_secrets[0].email}"
}

resource "google_service_account_iam_member" "external_secrets" {
  count = var.external_secrets == null ? 0 : 1

  service_account_id = google_service_account.external_secrets[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.external_secrets.namespace}/${var.external_secrets.service_account}]"
}
