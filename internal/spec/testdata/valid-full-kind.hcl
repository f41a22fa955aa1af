variable "replicas" {
  type    = number
  default = 2
}

variable "extra_labels" {
  type    = map(string)
  default = {}
}

locals {
  team   = "platform"
  labels = merge({ team = local.team }, var.extra_labels)
}

environment "dev" {
  labels = local.labels

  cluster "kind" {
    node_image = "registry.internal/kindest/node:v1.34.0"
    node {
      labels = { ingress-ready = "true" }
      port_mapping {
        container_port = 80
        host_port      = 8080
        listen_address = "127.0.0.1"
      }
    }
    node { role = "worker" }
    node { role = "worker" }
  }

  gitops {
    engine    = "flux"
    version   = "2.16.1"
    namespace = "flux"
    chart {
      repository = "oci://registry.internal/charts/"
      name       = "flux2"
    }
    repository {
      url    = "git@github.com:acme/fleet.git"
      branch = "release/dev"
      path   = "./clusters/dev/"
      auth { ssh_key_file = "~/.ssh/fleet" }
    }
    commit {
      author_name  = "Fleet Bot"
      author_email = "fleet@acme.example"
      message      = "chore: groundwork sync"
    }
    sync {
      interval = "30s"
      prune    = false
      timeout  = "1d"
    }
  }

  secrets {
    key_store "env" {}
  }

  addon "metrics-server" {
    repository = "https://kubernetes-sigs.github.io/metrics-server/"
    version    = "3.12.2"
    namespace  = "kube-system"
    create_namespace = false
    values = {
      replicas = var.replicas
      args     = ["--kubelet-insecure-tls"]
    }
  }

  addon "podinfo" {
    chart      = "podinfo"
    repository = "oci://ghcr.io/stefanprodan/charts"
    version    = "6.7.1"
    depends_on = ["metrics-server"]
  }

  ephemeral { ttl = "90m" }
}
