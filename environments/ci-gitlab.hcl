# A short-lived environment for a merge request, written for
# templates/ci/gitlab-ci.yaml: the kind cluster the job created in its
# Docker-in-Docker service, adopted through the kubeconfig the job wrote
# (GROUNDWORK_VAR_kubeconfig), a folder of its own in the repository
# (ephemeral/mr-<suffix>) and an expiry gc acts on. The Git token and the age
# key come from masked CI/CD variables, the repository's URL from a CI/CD
# variable (GROUNDWORK_VAR_repo).

variable "kubeconfig" {
  type        = string
  description = "kubeconfig of the job's kind cluster (the job sets GROUNDWORK_VAR_kubeconfig)."
  default     = "~/.kube/config"
}

variable "repo" {
  type        = string
  description = "HTTPS URL of the GitOps repository (the job sets GROUNDWORK_VAR_repo from the FLEET_REPO variable)."
  default     = "https://gitlab.com/acme/fleet.git"
}

environment "mr" {
  cluster "existing" {
    kubeconfig = var.kubeconfig
  }

  gitops {
    repository {
      url  = var.repo
      path = "ephemeral/mr" # each instance gets ephemeral/mr-<suffix>
      auth { token_env = "FLEET_TOKEN" }
    }
    sync { timeout = "10m" }
  }

  secrets {
    key_store "env" { variable = "GROUNDWORK_AGE_KEY" }
  }

  ephemeral { ttl = "2h" }
}
