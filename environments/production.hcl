# A long-lived environment whose recovery is rehearsed every week, written
# for templates/ci/github-drill.yaml and templates/ci/gitlab-drill.yaml:
# groundwork drill rebuilds it from Git and its key store into a scratch kind
# cluster (never this cluster, and never committing), checks it as a user
# would, and tears the scratch cluster down. Nothing secret in the file: the
# Git token and the age key come from the CI system's secrets, the
# repository's URL from a CI variable (GROUNDWORK_VAR_repo).

variable "repo" {
  type        = string
  description = "HTTPS URL of the GitOps repository (the workflow sets GROUNDWORK_VAR_repo from the FLEET_REPO variable)."
  default     = "https://github.com/acme/fleet.git"
}

variable "context" {
  type        = string
  description = "kubeconfig context of the production cluster (up and status use it; drill does not)."
  default     = "production"
}

environment "production" {
  cluster "existing" {
    kubeconfig = "~/.kube/config"
    context    = var.context
  }

  gitops {
    repository {
      url  = var.repo
      path = "clusters/production"
      auth { token_env = "FLEET_TOKEN" }
    }
    sync { timeout = "15m" }
  }

  secrets {
    key_store "env" { variable = "GROUNDWORK_AGE_KEY" }
  }
}
