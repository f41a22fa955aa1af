package spectest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// EnvOn is the environment "dev" on an existing cluster, its folder
// clusters/dev of the repository at url, with engine: SOPS with a file key
// store under Flux, Sealed Secrets under Argo CD.
func EnvOn(t testing.TB, url, engine string) *spec.Environment {
	t.Helper()
	src := `environment "dev" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    engine = "` + engine + `"
    repository {
      url  = "` + url + `"
      path = "clusters/dev"
    }
  }
  secrets {
    key_store "file" { path = "` + filepath.Join(t.TempDir(), "dev.agekey") + `" }
  }
}
`
	if engine == spec.EngineArgoCD {
		src = strings.Replace(src, `key_store "file" {`, `provider = "sealed-secrets"
    key_store "file" {`, 1)
		src = strings.Replace(src, "dev.agekey", "dev.pem", 1)
	}
	res := spec.Parse(filepath.Join(t.TempDir(), "dev.hcl"), []byte(src), spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	return res.Env
}

// NotifyEnv is the environment "dev" with two notification targets, ops
// (Slack, failures and recoveries) and pager (webhook, failures), under
// engine in its usual namespace.
func NotifyEnv(engine string) *spec.Environment {
	env := &spec.Environment{Name: "dev", GitOps: spec.GitOps{Engine: engine, Namespace: "flux-system"}}
	if engine == spec.EngineArgoCD {
		env.GitOps.Namespace = "argocd"
	}
	env.Notifications = &spec.Notifications{Targets: []spec.NotificationTarget{
		{Name: "ops", Type: spec.NotifySlack, URLEnv: "SLACK_WEBHOOK_URL", On: []string{spec.EventFailure, spec.EventRecovery}},
		{Name: "pager", Type: spec.NotifyWebhook, URLEnv: "PAGER_URL", On: []string{spec.EventFailure}},
	}}
	return env
}
