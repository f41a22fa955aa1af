environment "flux" {
  cluster "existing" {
    kubeconfig = "kubeconfig.yaml"
  }
  gitops {
    repository {
      url = "https://git.example/fleet.git"
    }
    sync {
      manual = true
      window "deny" {
        schedule = "0 22 * * *"
        duration = "1h"
      }
    }
  }
}
