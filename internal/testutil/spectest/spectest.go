package spectest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// EnvFile writes the environment "dev" into dir/dev.hcl: on an existing
// cluster, its folder clusters/dev of the repository at url, with engine:
// SOPS with a file key store under Flux, Sealed Secrets under Argo CD. It
// returns the file and the key store's path (dir/keys/dev.agekey or .pem,
// not created).
func EnvFile(t testing.TB, dir, url, engine string) (file, keyPath string) {
	t.Helper()
	keyPath = filepath.Join(dir, "keys", "dev.agekey")
	provider := ""
	if engine == spec.EngineArgoCD {
		keyPath, provider = filepath.Join(dir, "keys", "dev.pem"), "provider = \"sealed-secrets\"\n    "
	}
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
    ` + provider + `key_store "file" { path = "` + keyPath + `" }
  }
}
`
	file = filepath.Join(dir, "dev.hcl")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, keyPath
}

// EnvOn is the environment of EnvFile, loaded.
func EnvOn(t testing.TB, url, engine string) *spec.Environment {
	t.Helper()
	file, _ := EnvFile(t, t.TempDir(), url, engine)
	res := spec.Load(file, spec.Options{})
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
