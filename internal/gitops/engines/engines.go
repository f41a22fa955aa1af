package engines

import (
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/argocd"
	"github.com/groundwork-dev/groundwork/internal/gitops/flux"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// New returns the engine d.Env's gitops block names (Flux unless it says
// argocd).
func New(d gitops.Deps) gitops.Engine {
	if d.Env.GitOps.Engine == spec.EngineArgoCD {
		return argocd.New(d)
	}
	return flux.New(d)
}

// For is the engine of env for what needs no cluster (names, what Git
// declares, plan's descriptions).
func For(env *spec.Environment) gitops.Engine { return New(gitops.Deps{Env: env}) }
