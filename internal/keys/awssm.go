package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/internal/awsauth"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretsManagerAPI is what the store needs of AWS Secrets Manager
// (*secretsmanager.Client).
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
}

// SecretsManagerStore keeps the age identity as the string of a secret in
// AWS Secrets Manager (encrypted there with KMS; access by IAM), in the
// same text as a key file.
type SecretsManagerStore struct {
	API        SecretsManagerAPI
	SecretName string
	Region     string
}

// NewSecretsManagerStore uses the default AWS credential chain.
func NewSecretsManagerStore(ctx context.Context, secretName, region string) (SecretsManagerStore, error) {
	cfg, err := awsauth.Config(ctx, region, "the key store (AWS Secrets Manager secret "+secretName+")")
	if err != nil {
		return SecretsManagerStore{}, err
	}
	return SecretsManagerStore{API: secretsmanager.NewFromConfig(cfg), SecretName: secretName, Region: region}, nil
}

func (s SecretsManagerStore) where() string {
	return fmt.Sprintf("AWS Secrets Manager secret %s in %s", s.SecretName, s.Region)
}

// Load reads the identity; a *NotFoundError when the secret does not exist.
func (s SecretsManagerStore) Load(ctx context.Context) (*age.X25519Identity, error) {
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.SecretName)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, &NotFoundError{Where: s.where()}
	}
	if err != nil {
		return nil, fmt.Errorf("read the age key from %s: %w", s.where(), err)
	}
	id, err := parse(aws.ToString(out.SecretString))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(), err)
	}
	return id, nil
}

// Create stores a new identity; it never overwrites an existing secret.
func (s SecretsManagerStore) Create(ctx context.Context, id *age.X25519Identity) error {
	_, err := s.API.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(s.SecretName),
		Description:  aws.String("age identity of a groundwork environment: the SOPS key of its GitOps repository"),
		SecretString: aws.String("# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"),
		Tags:         []smtypes.Tag{{Key: aws.String("groundwork-managed-by"), Value: aws.String("groundwork")}},
	})
	if err != nil {
		return fmt.Errorf("store the age key in %s: %w", s.where(), err)
	}
	return nil
}

// LoadOrCreateSecretsManager returns the store's identity, generating and
// storing one when it has none; created tells which happened.
func LoadOrCreateSecretsManager(ctx context.Context, s SecretsManagerStore) (id *age.X25519Identity, created bool, err error) {
	id, err = s.Load(ctx)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return id, false, err
	}
	if id, err = age.GenerateX25519Identity(); err != nil {
		return nil, false, err
	}
	if err := s.Create(ctx, id); err != nil {
		return nil, false, err
	}
	return id, true, nil
}
