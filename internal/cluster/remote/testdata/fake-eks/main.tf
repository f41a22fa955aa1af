# A stand-in for modules/eks in tests: the same variables and outputs
# (TestFakeModuleMatches checks), but only Terraform's builtin terraform_data
# resource, so it needs no provider download and no AWS account.

locals {
  tags = merge(var.tags, { "groundwork-managed-by" = "groundwork" })
}

resource "terraform_data" "cluster" {
  input = {
    name               = var.name
    region             = var.region
    kubernetes_version = var.kubernetes_version
    node_pools         = var.node_pools
    tags               = local.tags
  }
}

resource "terraform_data" "external_secrets_role" {
  count = var.external_secrets == null ? 0 : 1
  input = "arn:aws:iam::123456789012:role/${var.name}-external-secrets"
}
