environment "shared" {
  cluster "existing" {
    kubeconfig = "~/.kube/shared"
    eks {
      name = "platform-shared"
    }
    eks {
      name   = "other"
      region = "eu-west-1"
    }
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}
