package keys

import (
	"context"
	"fmt"

	"filippo.io/age"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// LoadIdentity loads the age identity from the key store the spec names,
// creating nothing: a missing key is a *NotFoundError.
func LoadIdentity(ctx context.Context, ks spec.KeyStore, environ []string) (*age.X25519Identity, error) {
	switch ks.Type {
	case spec.KeyStoreFile:
		return FileStore{Path: ks.Path}.Load()
	case spec.KeyStoreEnv:
		return EnvStore{Variable: ks.Variable, Environ: environ}.Load()
	case spec.KeyStoreAWSSecretsManager:
		s, err := NewSecretsManagerStore(ctx, ks.SecretName, ks.Region)
		if err != nil {
			return nil, err
		}
		return s.Load(ctx)
	}
	return nil, fmt.Errorf("key store %s is not supported here", ks.Type)
}
