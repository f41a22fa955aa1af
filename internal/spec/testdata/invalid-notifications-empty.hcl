environment "notify" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  notifications {}
  notifications {
    webhook "a" { url_env = "A_URL" }
  }
}
