variable "region" {
  type = string
}

variable "replicas" {
  type    = number
  default = 0
  validation {
    condition     = var.replicas > 0
    error_message = "replicas must be at least 1."
  }
}

variable "size" {
  type    = number
  default = "large"
}

environment "dev" {
  cluster "eks" {
    region = var.region
  }
  gitops {
    repository {
      url = "https://github.com/acme/fleet.git"
      auth { token_env = env("NO_SUCH_VARIABLE_FOR_GROUNDWORK") }
    }
  }
}
