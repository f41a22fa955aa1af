environment "dev" {
  cluster "kind" {}
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  addon "a" {
    repository = "https://charts.example.com"
    version    = "1.0.0"
    depends_on = ["b"]
  }
  addon "b" {
    repository = "https://charts.example.com"
    version    = "1.0.0"
    depends_on = ["a"]
  }
  addon "a" {
    repository = "https://charts.example.com"
    version    = "1.0.0"
  }
}

environment "other" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}
