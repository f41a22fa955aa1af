environment "dev" {
  labels = ["a", "b"]
  cluster "kind" {
    node {
      port_mapping {
        container_port = "eighty"
        host_port      = 70000
      }
    }
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
    sync { prune = "yes" }
  }
  addon "x" {
    repository = "https://charts.example.com"
    version    = "1.0.0"
    values     = "replicas: 2"
  }
}
