variable "name" {
  description = "Name of the cluster and its identities: the groundwork environment's name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name)) && length(var.name) <= 40
    error_message = "name must be at most 40 lowercase letters, digits and dashes."
  }
}

variable "location" {
  description = "Azure region, like westeurope."
  type        = string
}

variable "resource_group" {
  description = "Resource group the module creates for the cluster."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and node pools, like \"1.34\"."
  type        = string
  default     = "1.34"
}

variable "node_pools" {
  description = "Node pools by name: VM size, autoscaling bounds and Kubernetes node labels. The first by name is the system pool, named after its first 12 letters and digits; the others are named after their first 8 (the Azure/aks module adds 4 random characters to them, and AKS allows 12)."
  type = map(object({
    vm_size      = string
    min_size     = number
    desired_size = number
    max_size     = number
    labels       = optional(map(string), {})
  }))
  default = {
    default = { vm_size = "Standard_D4s_v5", min_size = 1, desired_size = 2, max_size = 3 }
  }
}

variable "tags" {
  description = "Tags on every Azure resource. groundwork sets groundwork-environment, groundwork-managed-by and, for ephemeral environments, groundwork-expires (Unix seconds)."
  type        = map(string)
  default     = {}
}

variable "external_secrets" {
  description = "The user-assigned identity External Secrets Operator uses through Workload Identity to read Key Vault: the operator's namespace and ServiceAccount. null creates none; grant it access to your vaults (Key Vault Secrets User)."
  type = object({
    namespace       = string
    service_account = string
  })
  default = null
}
