variable "name" {
  description = "Name of the cluster, its VPC and IAM roles: the groundwork environment's name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name)) && length(var.name) <= 40
    error_message = "name must be at most 40 lowercase letters, digits and dashes."
  }
}

variable "region" {
  description = "AWS region of the cluster, like eu-west-1."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and node groups, like \"1.34\"."
  type        = string
  default     = "1.34"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC the module creates; three private and three public subnets are carved out of it."
  type        = string
  default     = "10.0.0.0/16"
}

variable "node_pools" {
  description = "Managed node groups by name: instance type, autoscaling bounds and Kubernetes node labels."
  type = map(object({
    instance_type = string
    min_size      = number
    desired_size  = number
    max_size      = number
    labels        = optional(map(string), {})
  }))
  default = {
    default = { instance_type = "m6i.large", min_size = 1, desired_size = 2, max_size = 3 }
  }
}

variable "tags" {
  description = "Tags on every AWS resource. groundwork sets groundwork-environment (the environment's name), groundwork-managed-by and, for ephemeral environments, groundwork-expires (Unix seconds), which gc looks for."
  type        = map(string)
  default     = {}
}

variable "external_secrets" {
  description = "The IAM role External Secrets Operator assumes through IRSA to read AWS Secrets Manager: the operator's namespace and ServiceAccount, and the prefix of the secret names it may read. null creates no role."
  type = object({
    namespace       = string
    service_account = string
    secret_prefix   = optional(string, "")
  })
  default = null
}
