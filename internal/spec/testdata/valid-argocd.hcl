environment "argo" {
  cluster "existing" {
    kubeconfig = "kubeconfig.yaml"
  }
  gitops {
    engine = "argocd"
    repository {
      url = "file:///srv/git/fleet.git"
    }
  }
  secrets {
    provider = "external-secrets"
    external_store "aws-secrets-manager" {
      region   = "us-east-1"
      role_arn = "arn:aws:iam::123456789012:role/eso"
    }
  }
}
