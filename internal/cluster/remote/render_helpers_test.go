package remote

import (
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

func renderBackend(env *spec.Environment) []byte {
	return terraform.RenderBackendConfig(Backend(env))
}
