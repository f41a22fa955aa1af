environment "dev" {
  gitops {
    repository {
      branch = "main"
    }
  }
  addon "podinfo" {
    repository = "oci://ghcr.io/stefanprodan/charts"
  }
}
