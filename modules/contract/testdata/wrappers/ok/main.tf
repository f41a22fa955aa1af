terraform {
  required_version = ">= 1.10.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.20, < 6.0"
    }
  }
}

variable "pools" {
  type = map(object({
    name  = string
    count = optional(number)
  }))
}

locals {
  first = var.pools[sort(keys(var.pools))[0]]
}

module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  name   = "x"
  size   = length(var.pools)
  pool   = { name = local.first.name, count = local.first.count }
  labels = merge({ a = "b" }, { for k, p in var.pools : k => p.name })
}

output "id" {
  value = module.child.id
}
