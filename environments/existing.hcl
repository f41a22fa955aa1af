# Adopt a cluster you already have, from a kubeconfig context. groundwork
# installs Flux and seeds the repository; it never deletes this cluster.

variable "context" {
  type        = string
  description = "kubeconfig context of the cluster to adopt."
  default     = "staging"
}

environment "staging" {
  cluster "existing" {
    kubeconfig = "~/.kube/config"
    context    = var.context
  }

  gitops {
    repository {
      url    = "ssh://git@github.com/acme/fleet.git"
      branch = "main"
      path   = "clusters/staging"
      auth {
        ssh_key_file     = "~/.ssh/fleet_deploy_key"
        known_hosts_file = "~/.ssh/known_hosts"
      }
    }
    commit {
      author_name  = "groundwork bot"
      author_email = "platform@acme.example"
    }
  }

  secrets {
    provider = "sops"
    key_store "file" { path = "~/.config/groundwork/keys/staging.agekey" }
  }

  addon "cert-manager" {
    repository = "https://charts.jetstack.io"
    version    = "v1.16.2"
    namespace  = "cert-manager"
    values     = { crds = { enabled = true } }
  }

  addon "external-dns" {
    repository = "https://kubernetes-sigs.github.io/external-dns"
    version    = "1.15.0"
    depends_on = ["cert-manager"]
  }
}
