# A short-lived environment for a CI job: a kind cluster that gc deletes after
# two hours, the age key from an environment variable of the CI system, and a
# per-run path in the repository (the run id comes in as a variable).

variable "run_id" {
  type        = string
  description = "CI run identifier, for a unique name and repository path."
  default     = "local"
}

environment "ci" {
  cluster "kind" {}

  gitops {
    repository {
      url  = "https://github.com/acme/fleet.git"
      path = "ephemeral/ci-${var.run_id}"
      auth { token_env = "GITHUB_TOKEN" }
    }
    sync { timeout = "10m" }
  }

  secrets {
    key_store "env" { variable = "GROUNDWORK_AGE_KEY" }
  }

  ephemeral { ttl = "2h" }
}
