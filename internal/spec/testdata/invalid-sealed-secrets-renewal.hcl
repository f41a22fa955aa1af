environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    values = {
      keyrenewperiod = "720h"
    }
  }
}
