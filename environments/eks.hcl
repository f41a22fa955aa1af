# Production on Amazon EKS, provisioned by Terraform through modules/eks with
# shared remote state in S3. Secrets: External Secrets Operator reading AWS
# Secrets Manager with the IAM role the module creates.

variable "region" {
  type    = string
  default = "eu-west-1"
  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region like eu-west-1"
  }
}

variable "node_count" {
  type    = number
  default = 3
}

locals {
  name = "prod-eu"
  tags = { environment = local.name, owner = "platform" }
}

environment "prod-eu" {
  cluster "eks" {
    region             = var.region
    kubernetes_version = "1.34"
    vpc_cidr           = "10.20.0.0/16"
    tags               = local.tags

    node_pool "general" {
      instance_type = "m6i.xlarge"
      min_size      = 2
      desired_size  = var.node_count
      max_size      = 6
    }
  }

  state "s3" {
    bucket = "acme-groundwork-state"
    key    = "environments/${local.name}.tfstate"
    region = var.region
    create = true
  }

  gitops {
    version = "2.17.0"
    repository {
      url  = "https://github.com/acme/fleet.git"
      path = "clusters/${local.name}"
      auth { token_env = "GITHUB_TOKEN" }
    }
    sync {
      interval = "5m"
      timeout  = "15m"
    }
  }

  secrets {
    provider = "external-secrets"
    external_store "aws-secrets-manager" { region = var.region }
  }

  addon "aws-load-balancer-controller" {
    repository = "https://aws.github.io/eks-charts"
    version    = "1.10.0"
    namespace  = "kube-system"
    values     = { clusterName = local.name }
  }
}
