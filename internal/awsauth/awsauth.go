package awsauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// NoCredentialsError is the default credential chain finding no usable
// credentials. Purpose is what groundwork needed them for.
type NoCredentialsError struct {
	Purpose string
	// Profile is the AWS profile in use ($AWS_PROFILE), if any.
	Profile string
	Err     error
}

func (e *NoCredentialsError) Error() string {
	how := "run `aws sso login` (or `aws configure`) or set AWS_PROFILE; in CI, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use the CI system's OIDC role"
	if e.Profile != "" {
		how = fmt.Sprintf("profile %s (AWS_PROFILE) gave none: run `aws sso login --profile %s`, or check the profile in ~/.aws/config", e.Profile, e.Profile)
	}
	msg := fmt.Sprintf("no AWS credentials for %s: %s", e.Purpose, how)
	if c := cause(e.Err); c != "" {
		msg += " (" + c + ")"
	}
	return msg
}

func (e *NoCredentialsError) Unwrap() error { return e.Err }

// Config loads the default AWS configuration for region and retrieves its
// credentials once (the SDK caches them for the clients made from it), so
// that their absence is one *NoCredentialsError naming purpose, found before
// anything is done with them. The SDK's logger is silenced: its warnings
// ("falling back to IMDSv1" on a machine that is not on EC2) are not
// groundwork's output.
func Config(ctx context.Context, region, purpose string) (aws.Config, error) {
	profile := os.Getenv("AWS_PROFILE")
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithLogger(logging.Nop{}), config.WithClientLogMode(0))
	var notExist config.SharedConfigProfileNotExistError
	switch {
	case errors.As(err, &notExist):
		return aws.Config{}, fmt.Errorf("AWS profile %s, for %s, is not in the shared config (~/.aws/config and ~/.aws/credentials): set AWS_PROFILE to a profile there, or add it with `aws configure --profile %s`", notExist.Profile, purpose, notExist.Profile)
	case err != nil:
		return aws.Config{}, fmt.Errorf("AWS configuration for %s: %w", purpose, err)
	}
	if cfg.Credentials == nil {
		return aws.Config{}, &NoCredentialsError{Purpose: purpose, Profile: profile, Err: errors.New("no credential provider")}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, ctx.Err()
		}
		return aws.Config{}, &NoCredentialsError{Purpose: purpose, Profile: profile, Err: err}
	}
	return cfg, nil
}

// cause is the part of a credential chain's error worth showing: nothing
// when no provider had credentials at all (the SDK then lists every
// provider it tried, down to the instance metadata service, which says
// nothing to someone on a laptop), and otherwise the innermost error (an
// STS refusal, an expired SSO token).
func cause(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, none := range []string{"no EC2 IMDS role found", "failed to refresh cached credentials, no", "no valid providers in chain", "EC2 IMDS"} {
		if strings.Contains(msg, none) {
			return ""
		}
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
