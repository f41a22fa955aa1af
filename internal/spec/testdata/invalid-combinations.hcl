environment "dev" {
  cluster "kind" {
    kubernetes_version = "v1.34.0"
    node_image         = "kindest/node:v1.34.0"
    node { role = "worker" }
  }
  state "s3" {
    bucket = "b"
    key    = "k"
    region = "eu-west-1"
  }
  gitops {
    engine = "argocd"
    repository {
      url = "ssh://git@github.com/acme/fleet.git"
      auth {
        token_env    = "GITHUB_TOKEN"
      }
    }
  }
  secrets {
    provider = "sops"
    external_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}
