package remote

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// EKS tokens, as aws-iam-authenticator makes them: a presigned STS
// GetCallerIdentity URL bound to the cluster by the x-k8s-aws-id header.
const (
	eksTokenPrefix  = "k8s-aws-v1."
	eksClusterIDHdr = "x-k8s-aws-id"
	// The URL is presigned for 60 seconds, but EKS accepts a token for 15
	// minutes after it was made; groundwork stops using it a minute
	// before.
	eksTokenValidity = 14 * time.Minute
)

// STSPresigner presigns STS requests (*sts.PresignClient).
type STSPresigner interface {
	PresignGetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// EKSToken makes a bearer token for the EKS cluster clusterName, signed with
// the presigner's credentials; no request leaves the machine.
func EKSToken(ctx context.Context, p STSPresigner, clusterName string, now time.Time) (*Token, error) {
	req, err := p.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(po *sts.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions,
				smithyhttp.SetHeaderValue(eksClusterIDHdr, clusterName),
				addQuery("X-Amz-Expires", "60"))
		})
	})
	if err != nil {
		return nil, fmt.Errorf("presign the EKS token: %w", err)
	}
	return &Token{Value: eksTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), Expiry: now.Add(eksTokenValidity)}, nil
}

// addQuery sets a query parameter before the request is signed.
func addQuery(key, value string) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc("groundworkQuery"+key, func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if r, ok := in.Request.(*smithyhttp.Request); ok {
				q := r.URL.Query()
				q.Set(key, value)
				r.URL.RawQuery = q.Encode()
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	}
}

// EKSAPI is what adoption and gc need of the EKS API (*eks.Client).
type EKSAPI interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, opts ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	ListClusters(ctx context.Context, in *eks.ListClustersInput, opts ...func(*eks.Options)) (*eks.ListClustersOutput, error)
}

// NotFoundError says the cloud has no cluster of that name.
type NotFoundError struct{ Name, Region string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no EKS cluster %q in %s: check the name and region, and that your AWS credentials are for the right account", e.Name, e.Region)
}

// DescribeEKS adopts the EKS cluster name: its endpoint, CA and tags from
// DescribeCluster, for a kubeconfig; Terraform never owns it.
func DescribeEKS(ctx context.Context, api EKSAPI, name, region string) (*Outputs, error) {
	out, err := api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		var nf *ekstypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, &NotFoundError{Name: name, Region: region}
		}
		return nil, fmt.Errorf("describe EKS cluster %s: %w", name, err)
	}
	c := out.Cluster
	if c == nil {
		return nil, &NotFoundError{Name: name, Region: region}
	}
	if c.Status != ekstypes.ClusterStatusActive && c.Status != ekstypes.ClusterStatusUpdating {
		return nil, fmt.Errorf("EKS cluster %s is %s, not ACTIVE: wait until it is, or look at it in the AWS console", name, c.Status)
	}
	o := &Outputs{Provider: spec.ProviderEKS, ClusterName: aws.ToString(c.Name), Endpoint: aws.ToString(c.Endpoint), Region: region, Tags: c.Tags}
	if c.CertificateAuthority != nil {
		pem, err := base64.StdEncoding.DecodeString(aws.ToString(c.CertificateAuthority.Data))
		if err != nil {
			return nil, fmt.Errorf("EKS cluster %s: CA certificate is not base64: %w", name, err)
		}
		o.CAData = pem
	}
	return o, nil
}

// Expired is a cluster of an ephemeral instance whose expiry has passed.
type Expired struct {
	ClusterName string
	// Environment is the instance's name (its tag).
	Environment string
	Expires     time.Time
}

// ExpiredEKS lists the EKS clusters tagged as instances of the ephemeral
// environment base (groundwork-environment = base-<suffix>) whose
// groundwork-expires is not after now: what gc deletes even when the state
// directory of the run that made them is gone (a CI runner).
func ExpiredEKS(ctx context.Context, api EKSAPI, base string, now time.Time) ([]Expired, error) {
	var out []Expired
	var next *string
	for {
		page, err := api.ListClusters(ctx, &eks.ListClustersInput{NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("list EKS clusters: %w", err)
		}
		for _, name := range page.Clusters {
			d, err := api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
			if err != nil {
				var nf *ekstypes.ResourceNotFoundException
				if errors.As(err, &nf) {
					continue // deleted meanwhile
				}
				return nil, fmt.Errorf("describe EKS cluster %s: %w", name, err)
			}
			tags := d.Cluster.Tags
			env := tags[TagEnvironment]
			if !strings.HasPrefix(env, base+"-") || tags[TagManagedBy] != "groundwork" {
				continue
			}
			secs, err := strconv.ParseInt(tags[TagExpires], 10, 64)
			if err != nil {
				continue // not ephemeral, or the tag was edited: never delete on a guess
			}
			exp := time.Unix(secs, 0).UTC()
			if exp.After(now) {
				continue
			}
			out = append(out, Expired{ClusterName: name, Environment: env, Expires: exp})
		}
		if page.NextToken == nil || *page.NextToken == "" {
			return out, nil
		}
		next = page.NextToken
	}
}

// AdoptEKS writes to path (0600) the kubeconfig of the EKS cluster name,
// found with DescribeCluster: a cluster groundwork uses but Terraform does
// not own, so down never destroys it.
func AdoptEKS(ctx context.Context, api EKSAPI, name, region, path string, ko KubeconfigOptions) (*Outputs, error) {
	o, err := DescribeEKS(ctx, api, name, region)
	if err != nil {
		return nil, err
	}
	cfg, err := Kubeconfig(o, ko)
	if err != nil {
		return nil, err
	}
	return o, WriteKubeconfig(path, cfg)
}
