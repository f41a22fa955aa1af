package terraform

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/zclconf/go-cty/cty"
)

// s3Server is gofakes3 (an S3 implementation in Go) on 127.0.0.1. gofakes3
// does not implement the bucket encryption and public access block
// configurations, so a thin layer in front of it keeps the configuration
// PUT on those subresources and serves it back on GET, as S3 does; every
// other request (buckets, objects, versioning, conditional writes for
// Terraform's lock file) is gofakes3's.
type s3Server struct {
	URL string
	mu  sync.Mutex
	cfg map[string][]byte // "bucket?encryption" -> body
}

func startS3(t *testing.T) *s3Server {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	s := &s3Server{cfg: map[string][]byte{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, sub := range []string{"encryption", "publicAccessBlock"} {
			if _, ok := q[sub]; !ok {
				continue
			}
			key := strings.Trim(r.URL.Path, "/") + "?" + sub
			s.mu.Lock()
			defer s.mu.Unlock()
			switch r.Method {
			case http.MethodPut:
				body, _ := io.ReadAll(r.Body)
				s.cfg[key] = body
			case http.MethodGet:
				body, ok := s.cfg[key]
				if !ok {
					http.Error(w, "<Error><Code>NoSuch"+sub+"Configuration</Code></Error>", http.StatusNotFound)
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				_, _ = w.Write(body)
			}
			return
		}
		faker.Server().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	t.Setenv("AWS_ACCESS_KEY_ID", "groundwork-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "groundwork-test-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

func (s *s3Server) client(t *testing.T) *s3.Client {
	t.Helper()
	c, err := NewS3Client(context.Background(), S3ClientOptions{Region: "eu-west-1", Endpoint: s.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backend is the s3 backend pointed at the server, locking with a lock
// file next to the state.
func (s *s3Server) backend(bucket, key string) *Backend {
	return &Backend{Type: "s3", Config: map[string]cty.Value{
		"bucket":                      cty.StringVal(bucket),
		"key":                         cty.StringVal(key),
		"region":                      cty.StringVal("eu-west-1"),
		"use_path_style":              cty.True,
		"use_lockfile":                cty.True,
		"skip_credentials_validation": cty.True,
		"skip_requesting_account_id":  cty.True,
		"skip_region_validation":      cty.True,
		"skip_metadata_api_check":     cty.True,
		"skip_s3_checksum":            cty.True,
		"endpoints":                   cty.ObjectVal(map[string]cty.Value{"s3": cty.StringVal(s.URL)}),
	}}
}

func TestEnsureS3Bucket(t *testing.T) {
	srv := startS3(t)
	ctx := context.Background()
	c := srv.client(t)
	created, err := EnsureS3Bucket(ctx, c, "acme-state", "eu-west-1")
	if err != nil || !created {
		t.Fatalf("EnsureS3Bucket = %t, %v; want created", created, err)
	}
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("acme-state")})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("versioning = %v, %v; want Enabled", v, err)
	}
	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("acme-state")})
	if err != nil || len(enc.ServerSideEncryptionConfiguration.Rules) != 1 ||
		enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Errorf("encryption = %+v, %v; want AES256 by default", enc, err)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("acme-state")})
	if err != nil {
		t.Fatal(err)
	}
	if p := pab.PublicAccessBlockConfiguration; !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.BlockPublicPolicy) ||
		!aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("public access block = %+v; want everything blocked", p)
	}
	// An existing bucket is left alone.
	created, err = EnsureS3Bucket(ctx, c, "acme-state", "eu-west-1")
	if err != nil || created {
		t.Fatalf("second EnsureS3Bucket = %t, %v; want found", created, err)
	}
}

func TestEnsureS3BucketError(t *testing.T) {
	// An S3 that refuses everything, as one does to credentials without
	// the permission.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
		}
	}))
	defer ts.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	c, err := NewS3Client(context.Background(), S3ClientOptions{Region: "eu-west-1", Endpoint: ts.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = EnsureS3Bucket(context.Background(), c, "acme-state", "eu-west-1")
	var be *BucketError
	if !errors.As(err, &be) || be.Op != "look for it" || !strings.Contains(err.Error(), "state bucket acme-state") {
		t.Fatalf("error %v, want a BucketError on looking for it", err)
	}
}

func TestS3BackendStateAndLock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin := realTerraform(t)
	srv := startS3(t)
	ctx := context.Background()
	c := srv.client(t)
	if _, err := EnsureS3Bucket(ctx, c, "acme-state", "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	be := srv.backend("acme-state", "environments/dev.tfstate")
	inputs := map[string]cty.Value{"name": cty.StringVal("dev")}

	dir := t.TempDir()
	workdir(t, dir, inputs, be)
	d := newDriver(t, bin, dir, &lines{})
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("acme-state"), Key: aws.String("environments/dev.tfstate")})
	if err != nil {
		t.Fatalf("the state is not in the bucket: %v", err)
	}
	state, _ := io.ReadAll(obj.Body)
	if !bytes.Contains(state, []byte(`"terraform_data"`)) {
		t.Errorf("state object holds no terraform_data resource:\n%s", state)
	}

	// Another machine (a fresh working directory) finds the state.
	other := t.TempDir()
	workdir(t, other, inputs, be)
	d2 := newDriver(t, bin, other, &lines{})
	if err := d2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := d2.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Empty() {
		t.Fatalf("plan from another working directory: %+v, want no change (state shared)", sum)
	}

	// A run holding the lock: its lock file is next to the state.
	lockKey := "environments/dev.tfstate.tflock"
	lockInfo := `{"ID":"0b3c7c2e-5c3a-4ad2-9a5d-000000000001","Operation":"OperationTypeApply","Info":"","Who":"ci@runner-7","Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":"acme-state/environments/dev.tfstate"}`
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acme-state"), Key: aws.String(lockKey), Body: strings.NewReader(lockInfo)}); err != nil {
		t.Fatal(err)
	}
	err = d2.Destroy(ctx)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("destroy with the state locked: %T %v, want *LockedError", err, err)
	}
	for _, want := range []string{"Error acquiring the state lock", "ci@runner-7", "force-unlock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lock error lacks %q:\n%v", want, err)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("acme-state"), Key: aws.String(lockKey)}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if has, err := d.HasState(ctx); err != nil || has {
		t.Fatalf("first directory's view after the destroy: HasState = %t, %v", has, err)
	}
}
