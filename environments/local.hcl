# A local environment on kind: the smallest useful file plus a few common
# settings. Everything not written here takes its default: Flux, SOPS with an
# age key kept in ~/.config/groundwork/keys/local.agekey, branch main, path
# clusters/local.

variable "fleet_url" {
  type        = string
  description = "GitOps repository the cluster follows."
  default     = "https://github.com/acme/fleet.git"
}

environment "local" {
  labels = { team = "platform" }

  cluster "kind" {
    kubernetes_version = "v1.34.0"

    node {
      role = "control-plane"
      port_mapping {
        container_port = 80
        host_port      = 8080
      }
      port_mapping {
        container_port = 443
        host_port      = 8443
      }
    }
    node { role = "worker" }
  }

  gitops {
    repository {
      url = var.fleet_url
      auth { token_env = "GITHUB_TOKEN" }
    }
  }

  addon "ingress-nginx" {
    repository = "https://kubernetes.github.io/ingress-nginx"
    version    = "4.11.3"
    values = {
      controller = {
        hostPort = { enabled = true }
        service  = { type = "NodePort" }
      }
    }
  }
}
