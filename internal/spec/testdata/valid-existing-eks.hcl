# An EKS cluster that exists already (made by another team's Terraform):
# groundwork adopts it by name and never destroys it.
environment "shared" {
  cluster "existing" {
    eks {
      name   = "platform-shared"
      region = "eu-west-1"
    }
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}
