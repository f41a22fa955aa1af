environment "Dev_Env" {
  cluster "eks" {
    region   = "eu-west-1"
    vpc_cidr = "10.0.0.0"
    node_pool "general" {
      min_size     = 3
      desired_size = 1
    }
  }
  state "gcs" {
    create = true
  }
  gitops {
    version = "^2.17"
    repository {
      url    = "github.com/acme/fleet"
      branch = "feature..x"
      path   = "../outside"
      auth { token_env = "ghp_abc123" }
    }
    sync { interval = "every minute" }
  }
  addon "podinfo" {
    repository = "ftp://charts.example.com"
    version    = "6.x"
    depends_on = ["podinfo", "missing"]
  }
  ephemeral { ttl = "-1h" }
}
