package terraform

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/awsauth"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3API is what EnsureS3Bucket needs of an S3 client (*s3.Client).
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, opts ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	PutBucketEncryption(ctx context.Context, in *s3.PutBucketEncryptionInput, opts ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, opts ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
}

// BucketError says why the state bucket could not be bootstrapped.
type BucketError struct {
	Bucket, Op string
	Err        error
}

func (e *BucketError) Error() string {
	hint := ""
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "Forbidden":
			hint = " The credentials groundwork uses (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) may not do that; create the bucket yourself and remove create = true."
		case "BucketAlreadyExists":
			hint = " Bucket names are global: another AWS account owns this one; choose another bucket name."
		}
	}
	return fmt.Sprintf("state bucket %s: %s: %v.%s", e.Bucket, e.Op, e.Err, hint)
}

func (e *BucketError) Unwrap() error { return e.Err }

// EnsureS3Bucket creates the state bucket if it is missing, with
// versioning (every state version kept), default encryption (SSE-S3) and
// every kind of public access blocked. An existing bucket is left as it
// is. created reports whether the bucket was made now.
func EnsureS3Bucket(ctx context.Context, api S3API, bucket, region string) (created bool, err error) {
	_, err = api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return false, nil
	}
	if !notFound(err) {
		return false, &BucketError{Bucket: bucket, Op: "look for it", Err: err}
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		// us-east-1 is the default and refuses an explicit constraint.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	if _, err := api.CreateBucket(ctx, in); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return false, &BucketError{Bucket: bucket, Op: "create it", Err: err}
		}
	}
	if _, err := api.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		}}); err != nil {
		return true, &BucketError{Bucket: bucket, Op: "block public access", Err: err}
	}
	if _, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		return true, &BucketError{Bucket: bucket, Op: "enable versioning", Err: err}
	}
	if _, err := api.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
			BucketKeyEnabled:                   aws.Bool(true),
		}}}}); err != nil {
		return true, &BucketError{Bucket: bucket, Op: "enable encryption", Err: err}
	}
	return true, nil
}

// notFound reports whether a HeadBucket error means the bucket is missing.
func notFound(err error) bool {
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if errors.As(err, &nf) || errors.As(err, &nsb) {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// S3ClientOptions locate S3 for NewS3Client.
type S3ClientOptions struct {
	Region string
	// Endpoint replaces AWS's S3 endpoint (an S3-compatible store); empty
	// means AWS's, or $AWS_ENDPOINT_URL_S3 as the SDK and Terraform's s3
	// backend both read it.
	Endpoint string
	// PathStyle addresses buckets as a path, not a host name.
	PathStyle bool
}

// NewS3Client returns an S3 client with the default credential chain
// (environment, shared config and profile, SSO, instance roles).
func NewS3Client(ctx context.Context, o S3ClientOptions) (*s3.Client, error) {
	cfg, err := awsauth.Config(ctx, o.Region, "the Terraform state bucket")
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	}), nil
}
