environment "held" {
  cluster "existing" {
    kubeconfig = "kubeconfig.yaml"
  }
  gitops {
    engine = "argocd"
    repository {
      url = "https://git.example/fleet.git"
    }
    sync {
      manual = true
      window "deny" {
        schedule    = "0 8 * * 1-5"
        duration    = "10h"
        time_zone   = "Europe/Berlin"
        manual_sync = true
      }
      window "allow" {
        schedule = "0 22 * * *"
        duration = "2h"
      }
    }
  }
}
