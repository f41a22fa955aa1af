package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

var testCreds = credentials.NewStaticCredentialsProvider("AKIDGROUNDWORKTEST", "secret-of-the-test", "")

// fakeSTS stands in for AWS STS, which tests cannot reach: it answers a
// presigned GetCallerIdentity GET the way STS does (the query API's XML),
// after checking what EKS's authenticator checks of a token's URL: the
// action, a signature over the x-k8s-aws-id header naming the cluster, and
// the header itself.
func fakeSTS(t *testing.T, cluster string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("Action") != "GetCallerIdentity":
			http.Error(w, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", http.StatusBadRequest)
		case !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id"), r.Header.Get("x-k8s-aws-id") != cluster, q.Get("X-Amz-Signature") == "":
			http.Error(w, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>", http.StatusForbidden)
		default:
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestEKSToken(t *testing.T) {
	ts := fakeSTS(t, "prod-eu")
	client := sts.New(sts.Options{Region: "eu-west-1", Credentials: testCreds, BaseEndpoint: aws.String(ts.URL)})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tok, err := EKSToken(context.Background(), sts.NewPresignClient(client), "prod-eu", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Value, "k8s-aws-v1.") || strings.Contains(tok.Value, "=") {
		t.Fatalf("token %q: want k8s-aws-v1. and unpadded base64url", tok.Value)
	}
	if !tok.Expiry.Equal(now.Add(14 * time.Minute)) {
		t.Errorf("expiry %s", tok.Expiry)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok.Value, "k8s-aws-v1."))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("X-Amz-Expires") != "60" || q.Get("X-Amz-Credential") == "" || !strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDGROUNDWORKTEST/") {
		t.Errorf("presigned URL %s: want X-Amz-Expires=60 and the caller's credential", u)
	}
	// What EKS does with the token: GET the URL with the cluster header.
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("x-k8s-aws-id", "prod-eu")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("STS answered the token's request with %s", resp.Status)
	}
}

// fakeEKS stands in for the EKS API (REST JSON), which tests cannot reach:
// GET /clusters (paginated by nextToken) and GET /clusters/{name}.
func fakeEKS(t *testing.T, clusters map[string]map[string]any, pageSize int) *eks.Client {
	names := make([]string, 0, len(clusters))
	for n := range clusters {
		names = append(names, n)
	}
	sortStrings(names)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet {
			http.Error(w, "", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/clusters" {
			start := 0
			if tok := r.URL.Query().Get("nextToken"); tok != "" {
				for i, n := range names {
					if n == tok {
						start = i
					}
				}
			}
			end := min(start+pageSize, len(names))
			page := map[string]any{"clusters": names[start:end]}
			if end < len(names) {
				page["nextToken"] = names[end]
			}
			_ = json.NewEncoder(w).Encode(page)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/clusters/")
		c, ok := clusters[name]
		if !ok {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No cluster found for name: ` + name + `."}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cluster": c})
	}))
	t.Cleanup(ts.Close)
	return eks.New(eks.Options{Region: "eu-west-1", Credentials: testCreds, BaseEndpoint: aws.String(ts.URL)})
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

const testCAPEM = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\n-----END CERTIFICATE-----\n"

func cluster(name, status string, tags map[string]string) map[string]any {
	return map[string]any{"name": name, "status": status, "endpoint": "https://" + name + ".gr7.eu-west-1.eks.amazonaws.com",
		"certificateAuthority": map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(testCAPEM))}, "tags": tags}
}

func TestDescribeEKS(t *testing.T) {
	api := fakeEKS(t, map[string]map[string]any{
		"shared":   cluster("shared", "ACTIVE", map[string]string{"team": "platform"}),
		"creating": cluster("creating", "CREATING", nil),
	}, 10)
	ctx := context.Background()
	o, err := DescribeEKS(ctx, api, "shared", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if o.ClusterName != "shared" || o.Endpoint != "https://shared.gr7.eu-west-1.eks.amazonaws.com" || string(o.CAData) != testCAPEM || o.Tags["team"] != "platform" {
		t.Fatalf("adopted %+v", o)
	}
	var nf *NotFoundError
	if _, err := DescribeEKS(ctx, api, "nope", "eu-west-1"); !errors.As(err, &nf) || !strings.Contains(err.Error(), "check the name and region") {
		t.Errorf("missing cluster: %v, want a NotFoundError", err)
	}
	if _, err := DescribeEKS(ctx, api, "creating", "eu-west-1"); err == nil || !strings.Contains(err.Error(), "CREATING") {
		t.Errorf("cluster still creating: %v", err)
	}

	// Adopting writes its kubeconfig.
	dir := t.TempDir()
	if _, err := AdoptEKS(ctx, api, "shared", "eu-west-1", filepath.Join(dir, "adopted"), KubeconfigOptions{}); err != nil {
		t.Fatal(err)
	}
	if rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "adopted")); err != nil || rc.Host != o.Endpoint {
		t.Fatalf("adopted kubeconfig: %v, %v", rc, err)
	}
	if _, err := AdoptEKS(ctx, api, "nope", "eu-west-1", filepath.Join(dir, "nope"), KubeconfigOptions{}); !errors.As(err, &nf) {
		t.Errorf("adopting a missing cluster: %v", err)
	}

	// Its kubeconfig, with the aws CLI's exec plugin and with a token.
	for _, ko := range []KubeconfigOptions{{AWSProfile: "prod"}, {Token: &Token{Value: "k8s-aws-v1.abc"}}} {
		cfg, err := Kubeconfig(o, ko)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "kubeconfig")
		if err := WriteKubeconfig(path, cfg); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("kubeconfig mode %v, %v; want 0600", fi.Mode(), err)
		}
		rc, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Host != o.Endpoint || string(rc.CAData) != testCAPEM {
			t.Errorf("rest config %s", rc.Host)
		}
		if ko.Token != nil && rc.BearerToken != "k8s-aws-v1.abc" {
			t.Errorf("token kubeconfig has bearer token %q", rc.BearerToken)
		}
		if ko.Token == nil {
			if rc.ExecProvider == nil || rc.ExecProvider.Command != "aws" ||
				strings.Join(rc.ExecProvider.Args, " ") != "eks get-token --cluster-name shared --region eu-west-1 --output json" ||
				rc.ExecProvider.Env[0].Value != "prod" {
				t.Errorf("exec plugin %+v", rc.ExecProvider)
			}
		}
	}
}

func TestKubeconfigGKEAndAKS(t *testing.T) {
	for _, c := range []struct{ provider, command string }{{spec.ProviderGKE, "gke-gcloud-auth-plugin"}, {spec.ProviderAKS, "kubelogin"}} {
		o := &Outputs{Provider: c.provider, ClusterName: "analytics", Endpoint: "https://34.1.2.3", CAData: []byte(testCAPEM)}
		cfg, err := Kubeconfig(o, KubeconfigOptions{})
		if err != nil {
			t.Fatal(err)
		}
		auth := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
		if auth.Exec == nil || auth.Exec.Command != c.command || auth.Exec.InstallHint == "" {
			t.Errorf("%s: exec %+v", c.provider, auth.Exec)
		}
	}
	if _, err := Kubeconfig(&Outputs{Provider: spec.ProviderEKS, ClusterName: "x"}, KubeconfigOptions{}); err == nil {
		t.Error("a kubeconfig without endpoint was built")
	}
}

func TestExpiredEKS(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	past, future := "1767261600", "1767276000" // 10:00 and 14:00
	tags := func(env, exp string) map[string]string {
		t := map[string]string{TagEnvironment: env, TagManagedBy: "groundwork"}
		if exp != "" {
			t[TagExpires] = exp
		}
		return t
	}
	api := fakeEKS(t, map[string]map[string]any{
		"ci-run1":    cluster("ci-run1", "ACTIVE", tags("ci-run1", past)),
		"ci-run2":    cluster("ci-run2", "ACTIVE", tags("ci-run2", future)),
		"ci-run3":    cluster("ci-run3", "ACTIVE", tags("ci-run3", past)),
		"ci":         cluster("ci", "ACTIVE", tags("ci", "")),                                                          // the base environment, not ephemeral
		"cider-run1": cluster("cider-run1", "ACTIVE", tags("cider-run1", past)),                                        // another environment
		"ci-manual":  cluster("ci-manual", "ACTIVE", map[string]string{TagEnvironment: "ci-manual", TagExpires: past}), // not groundwork's
		"ci-garbled": cluster("ci-garbled", "ACTIVE", tags("ci-garbled", "tomorrow")),
	}, 2)
	got, err := ExpiredEKS(context.Background(), api, "ci", now)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.ClusterName+"@"+e.Expires.Format(time.Kitchen))
	}
	if strings.Join(names, ",") != "ci-run1@10:00AM,ci-run3@10:00AM" {
		t.Fatalf("expired = %v, want ci-run1 and ci-run3", names)
	}
}
