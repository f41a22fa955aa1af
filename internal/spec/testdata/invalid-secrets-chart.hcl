environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    version = "2.17.9"
    chart { repository = "https://mirror.example/charts" }
  }
}
