package awsauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// noAWS leaves the test without any AWS credentials or config of the
// machine's, with the instance metadata service at imds.
func noAWS(t *testing.T, imds string) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
}

// stderr runs f with the process's standard error captured.
func stderr(t *testing.T, f func()) string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	f()
	os.Stderr = saved
	w.Close()
	return <-done
}

// TestConfigWithoutCredentials: on a machine with no credentials and an
// instance metadata service that refuses IMDSv2 tokens (the SDK then warns
// that it falls back to IMDSv1) and has no role, Config fails with one
// error naming what the credentials were for and how to get them, and the
// SDK prints nothing.
func TestConfigWithoutCredentials(t *testing.T) {
	var asked atomic.Int32
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Method == http.MethodPut { // the IMDSv2 token
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer imds.Close()
	noAWS(t, imds.URL)
	var err error
	out := stderr(t, func() { _, err = Config(context.Background(), "eu-west-1", "the key store") })
	var nc *NoCredentialsError
	if !errors.As(err, &nc) {
		t.Fatalf("Config without credentials: %v, want a *NoCredentialsError", err)
	}
	for _, want := range []string{"no AWS credentials for the key store", "aws sso login", "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ec2imds") || strings.Contains(err.Error(), "operation error") {
		t.Errorf("the SDK's chain of causes is in the message: %q", err)
	}
	if asked.Load() == 0 {
		t.Fatal("the instance metadata service was never asked: the test does not exercise the SDK's fallback warning")
	}
	if out != "" {
		t.Errorf("the AWS SDK printed on stderr: %q", out)
	}
}

// TestConfigProfile: a profile that is not in the shared config is named,
// with where it was looked for; with static credentials in the environment
// Config succeeds.
func TestConfigProfile(t *testing.T) {
	noAWS(t, "http://127.0.0.1:1")
	t.Setenv("AWS_PROFILE", "ops")
	_, err := Config(context.Background(), "eu-west-1", "the EKS cluster")
	if err == nil || !strings.Contains(err.Error(), "AWS profile ops, for the EKS cluster, is not in the shared config") {
		t.Fatalf("a missing profile: %v", err)
	}
	os.Unsetenv("AWS_PROFILE")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	cfg, err := Config(context.Background(), "eu-west-1", "the EKS cluster")
	if err != nil || cfg.Region != "eu-west-1" {
		t.Fatalf("static credentials: %v %v", cfg.Region, err)
	}
}

// TestConfigCredentialsRefused: credentials that exist but fail (here a
// profile's credential_process that exits with an error) keep their cause in
// the message, beside the advice.
func TestConfigCredentialsRefused(t *testing.T) {
	noAWS(t, "http://127.0.0.1:1")
	script := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'the SSO session has expired' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile ops]\ncredential_process = "+script+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "ops")
	_, err := Config(context.Background(), "eu-west-1", "the EKS cluster")
	var nc *NoCredentialsError
	if !errors.As(err, &nc) || !strings.Contains(err.Error(), "profile ops (AWS_PROFILE) gave none") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("a refusing credential process: %v", err)
	}
}
