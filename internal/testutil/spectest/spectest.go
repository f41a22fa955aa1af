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
