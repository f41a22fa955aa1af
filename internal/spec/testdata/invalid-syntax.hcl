environment "dev" {
  cluster "kind" {
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}
