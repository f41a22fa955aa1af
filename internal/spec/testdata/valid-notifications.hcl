variable "team" {
  type    = string
  default = "ops"
}

environment "notify" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }

  notifications {
    slack "ops" {
      url_env = "SLACK_WEBHOOK_URL"
      channel = "#${var.team}"
    }
    webhook "pager" {
      url_env = "PAGER_URL"
      on      = ["failure"]
    }
  }
}
