package keys

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/groundwork-dev/groundwork/internal/testutil/awsfake"
)

// fakeSecretsManager is a client of the local Secrets Manager stand-in
// (AWS cannot be reached from tests) and the store behind it.
func fakeSecretsManager(t *testing.T) (*secretsmanager.Client, *awsfake.SecretsManager) {
	sm := awsfake.StartSecretsManager(t)
	return secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(sm.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}), sm
}

func TestSecretsManagerStore(t *testing.T) {
	ctx := context.Background()
	api, secrets := fakeSecretsManager(t)
	s := SecretsManagerStore{API: api, SecretName: "groundwork/prod/keys", Region: "eu-west-1"}

	var nf *NotFoundError
	if _, err := s.Load(ctx); !errors.As(err, &nf) || !strings.Contains(err.Error(), "AWS Secrets Manager secret groundwork/prod/keys in eu-west-1") {
		t.Fatalf("empty store: %v, want a NotFoundError naming the secret", err)
	}
	id, created, err := LoadOrCreateSecretsManager(ctx, s)
	if err != nil || !created {
		t.Fatalf("first use: created %v, %v", created, err)
	}
	stored, _ := secrets.Get("groundwork/prod/keys")
	if !strings.Contains(stored, id.String()) || !strings.Contains(stored, "# public key: "+id.Recipient().String()) {
		t.Errorf("stored secret is not the key file's text")
	}
	again, created, err := LoadOrCreateSecretsManager(ctx, s)
	if err != nil || created || again.String() != id.String() {
		t.Fatalf("second use: created %v, same key %v, %v", created, again != nil && again.String() == id.String(), err)
	}
	secrets.Put("groundwork/prod/keys", "not a key")
	if _, err := s.Load(ctx); err == nil || !strings.Contains(err.Error(), "not an age identity") {
		t.Errorf("a secret that is no age key: %v", err)
	}
}
