# An AKS environment with state in an Azure storage account. The age key that
# decrypts SOPS files is kept in AWS Secrets Manager, outside any cluster.

environment "payments" {
  cluster "aks" {
    location       = "westeurope"
    resource_group = "payments-rg"

    node_pool "system" {
      vm_size      = "Standard_D4s_v5"
      min_size     = 1
      desired_size = 2
      max_size     = 4
    }
  }

  state "azurerm" {
    resource_group_name  = "tfstate-rg"
    storage_account_name = "acmetfstate"
    container_name       = "tfstate"
    key                  = "payments.tfstate"
  }

  gitops {
    repository {
      url = "https://dev.azure.com/acme/platform/_git/fleet"
      auth { token_env = "AZURE_DEVOPS_TOKEN" }
    }
  }

  secrets {
    key_store "aws-secrets-manager" {
      region      = "eu-west-1"
      secret_name = "groundwork/payments/age-key"
    }
  }
}
