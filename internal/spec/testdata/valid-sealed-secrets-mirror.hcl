# Sealed Secrets from an air-gapped mirror, at a pinned version.
environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    version  = "2.17.8"
    chart { repository = "oci://registry.internal/charts" }
  }
}
