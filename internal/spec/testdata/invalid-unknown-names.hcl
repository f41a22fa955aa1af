environment "dev" {
  clustr "kind" {}
  cluster "kinda" {}
  gitops {
    engnie = "flux"
    repository {
      url    = "https://github.com/acme/fleet.git"
      brnach = "main"
    }
  }
  secrets {
    key_store "vault" {}
  }
}
