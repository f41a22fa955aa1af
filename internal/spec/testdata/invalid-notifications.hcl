environment "notify" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
  }

  notifications {
    on = ["failure", "recovered"]
    slack "ops" {
      url     = "https://hooks.slack.com/services/T000/B000/XXXX"
      url_env = "slack webhook"
    }
    webhook "ops" {
      url_env = "OPS_URL"
    }
    webhook "Pager_Duty" {
      url_env = "PAGER_URL"
      on      = ["recovery"]
    }
    webhook "audit" {
      on = ["failure", "failure"]
    }
    slack "chat" {
      url_env = "CHAT_URL"
      channel = ""
    }
    teams "x" {}
  }
}
