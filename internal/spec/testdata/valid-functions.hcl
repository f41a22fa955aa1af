variable "region" {
  type    = string
  default = "eu-west-1"
  validation {
    condition     = length(var.region) > 3
    error_message = "region is too short"
  }
}

variable "pools" {
  type = list(object({
    name = string
    size = optional(number, 2)
  }))
  default = [{ name = "general" }]
}

environment "fn" {
  labels = {
    owner  = env("GW_TEST_OWNER", "nobody")
    region = upper(var.region)
    pools  = join(",", [for p in var.pools : format("%s=%d", p.name, p.size)])
    note   = trimspace(file("note.txt"))
  }

  cluster "eks" {
    region = var.region
    node_pool "general" {
      desired_size = var.pools[0].size
    }
  }

  gitops {
    repository {
      url = format("https://git.example.com/%s/fleet.git", "acme")
      auth { token_env = "GIT_TOKEN" }
    }
  }
}
