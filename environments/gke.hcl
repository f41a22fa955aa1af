# A GKE environment with Argo CD as the reconciler and Sealed Secrets. groundwork
# generates the sealing key pair and keeps it in the key store (here a file), so
# that SealedSecrets committed before a disaster still decrypt after a rebuild.
# Failed syncs and degraded applications go to Slack, and recoveries after them;
# the webhook URL comes from $SLACK_WEBHOOK_URL when up runs, never from Git.

environment "analytics" {
  cluster "gke" {
    project  = "acme-analytics"
    location = "europe-west1"

    node_pool "default" {
      machine_type = "e2-standard-8"
      min_size     = 1
      desired_size = 2
      max_size     = 5
    }
  }

  state "gcs" {
    bucket = "acme-groundwork-state"
    prefix = "analytics"
  }

  gitops {
    engine = "argocd"
    repository {
      url = "https://gitlab.com/acme/fleet.git"
      auth {
        token_env = "GITLAB_TOKEN"
        username  = "oauth2"
      }
    }
  }

  secrets {
    provider = "sealed-secrets"
    key_store "file" { path = "~/.config/groundwork/keys/analytics.sealed-secrets.pem" }
  }

  notifications {
    slack "platform" {
      url_env = "SLACK_WEBHOOK_URL"
      channel = "#analytics-alerts"
    }
  }
}
