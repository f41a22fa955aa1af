# A short-lived environment for a pull request, written for
# templates/ci/github-actions.yaml: a kind cluster on the runner's Docker, a
# folder of its own in the repository (ephemeral/ci-<suffix>), an expiry gc
# acts on, and nothing secret in the file: the Git token and the age key come
# from the CI system's secrets, the repository's URL from a CI variable
# (GROUNDWORK_VAR_repo).

variable "repo" {
  type        = string
  description = "HTTPS URL of the GitOps repository (the workflow sets GROUNDWORK_VAR_repo from the FLEET_REPO variable)."
  default     = "https://github.com/acme/fleet.git"
}

environment "ci" {
  cluster "kind" {}

  gitops {
    repository {
      url  = var.repo
      path = "ephemeral/ci" # each instance gets ephemeral/ci-<suffix>
      auth { token_env = "FLEET_TOKEN" }
    }
    sync { timeout = "10m" }
  }

  secrets {
    key_store "env" { variable = "GROUNDWORK_AGE_KEY" }
  }

  ephemeral { ttl = "2h" }
}
