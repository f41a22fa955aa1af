# Thin wrapper over the Azure AKS module: a resource group, an AKS cluster
# with Entra ID (Azure RBAC), the OIDC issuer and Workload Identity,
# autoscaled node pools, and the identity External Secrets Operator uses.

locals {
  tags        = merge(var.tags, { "groundwork-managed-by" = "groundwork" })
  pool_names  = sort(keys(var.node_pools))
  system_pool = var.node_pools[local.pool_names[0]]
}

resource "azurerm_resource_group" "this" {
  name     = var.resource_group
  location = var.location
  tags     = local.tags
}

module "aks" {
  source  = "Azure/aks/azurerm"
  version = "9.4.1"

  cluster_name         = var.name
  prefix               = var.name
  resource_group_name  = azurerm_resource_group.this.name
  location             = var.location
  kubernetes_version   = var.kubernetes_version
  orchestrator_version = var.kubernetes_version

  agents_pool_name    = substr(replace(local.pool_names[0], "-", ""), 0, 12)
  agents_size         = local.system_pool.vm_size
  enable_auto_scaling = true
  agents_min_count    = local.system_pool.min_size
  agents_count        = local.system_pool.desired_size
  agents_max_count    = local.system_pool.max_size
  agents_labels       = local.system_pool.labels

  node_pools = {
    for name in slice(local.pool_names, 1, length(local.pool_names)) : name => {
      # Azure/aks adds 4 random characters (create_before_destroy), and
      # AKS allows 12: the name keeps 8 (groundwork validate refuses
      # names that collide once cut).
      name                = substr(replace(name, "-", ""), 0, 8)
      vm_size             = var.node_pools[name].vm_size
      enable_auto_scaling = true
      min_count           = var.node_pools[name].min_size
      node_count          = var.node_pools[name].desired_size
      max_count           = var.node_pools[name].max_size
      node_labels         = var.node_pools[name].labels
    }
  }

  role_based_access_control_enabled = true
  rbac_aad                          = true
  rbac_aad_managed                  = true
  rbac_aad_azure_rbac_enabled       = true
  local_account_disabled            = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true

  tags = local.tags
}

resource "azurerm_user_assigned_identity" "external_secrets" {
  count = var.external_secrets == null ? 0 : 1

  name                = "${var.name}-external-secrets"
  resource_group_name = azurerm_resource_group.this.name
  location            = var.location
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "external_secrets" {
  count = var.external_secrets == null ? 0 : 1

  name                = "external-secrets"
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.external_secrets[0].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = module.aks.oidc_issuer_url
  subject             = "system:serviceaccount:${var.external_secrets.namespace}:${var.external_secrets.service_account}"
}
