variable "name" {
  description = "Name of the cluster, its subnetwork and service accounts: the groundwork environment's name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name)) && length(var.name) <= 40
    error_message = "name must be at most 40 lowercase letters, digits and dashes."
  }
}

variable "project" {
  description = "Google Cloud project ID."
  type        = string
}

variable "location" {
  description = "Region (a regional cluster, like europe-west1) or zone (a zonal cluster, like europe-west1-b)."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane, like \"1.34\"; GKE picks the latest patch."
  type        = string
  default     = "1.34"
}

variable "network" {
  description = "VPC network the cluster's subnetwork is created in."
  type        = string
  default     = "default"
}

variable "subnetwork_cidr" {
  description = "Primary range of the subnetwork the module creates for the nodes; pods and services get secondary ranges pods_cidr and services_cidr."
  type        = string
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range of the subnetwork for pods."
  type        = string
  default     = "10.16.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range of the subnetwork for services."
  type        = string
  default     = "10.20.0.0/20"
}

variable "node_pools" {
  description = "Node pools by name: machine type, autoscaling bounds and Kubernetes node labels."
  type = map(object({
    machine_type = string
    min_size     = number
    desired_size = number
    max_size     = number
    labels       = optional(map(string), {})
  }))
  default = {
    default = { machine_type = "e2-standard-4", min_size = 1, desired_size = 2, max_size = 3 }
  }
}

variable "labels" {
  description = "Labels on the cluster and node pools. groundwork sets groundwork-environment, groundwork-managed-by and, for ephemeral environments, groundwork-expires (Unix seconds)."
  type        = map(string)
  default     = {}
}

variable "external_secrets" {
  description = "The Google service account External Secrets Operator impersonates through Workload Identity to read Secret Manager: the operator's namespace and ServiceAccount. null creates none."
  type = object({
    namespace       = string
    service_account = string
  })
  default = null
}
