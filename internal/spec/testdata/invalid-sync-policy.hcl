environment "argo" {
  cluster "existing" {
    kubeconfig = "kubeconfig.yaml"
  }
  gitops {
    engine = "argocd"
    repository {
      url = "https://git.example/fleet.git"
    }
    sync {
      manual = "yes"
      window "deni" {
        schedule = "0 22 * * *"
        duration = "1h"
      }
      window "deny" {
        schedule  = "every night"
        duration  = "-1h"
        time_zone = "Mars/Olympus"
      }
      window "allow" {
        duration = "1h"
      }
    }
  }
}
