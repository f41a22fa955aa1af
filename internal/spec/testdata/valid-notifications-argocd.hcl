environment "argo-notify" {
  cluster "kind" {}
  gitops {
    engine = "argocd"
    repository { url = "https://github.com/acme/fleet.git" }
  }

  notifications {
    on = ["recovery", "failure"]
    webhook "audit" { url_env = "AUDIT_WEBHOOK" }
  }
}
