package up

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// TestSecretsReleaseWorkloadIdentity checks how External Secrets Operator's
// ServiceAccount is bound to the identity a cloud cluster's module created
// for it, and that a role_arn in the spec wins.
func TestSecretsReleaseWorkloadIdentity(t *testing.T) {
	envFor := func(t *testing.T, cluster, store string) *spec.Environment {
		t.Helper()
		src := `environment "e" {
  cluster "` + cluster + `" {
    ` + map[string]string{"eks": `region = "eu-west-1"`, "gke": `project = "p"
    location = "europe-west1"`, "aks": `location = "westeurope"`}[cluster] + `
  }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "external-secrets"
    external_store "aws-secrets-manager" {
      region = "eu-west-1"
      ` + store + `
    }
  }
}
`
		res := spec.Parse("e.hcl", []byte(src), spec.Options{})
		if res.Diags.HasErrors() {
			t.Fatalf("%s: %v", cluster, res.Diags)
		}
		return res.Env
	}
	cases := []struct {
		name, cluster, store, identity string
		want                           map[string]any
	}{
		{"eks module role", "eks", "", "arn:aws:iam::1:role/eso",
			map[string]any{"serviceAccount": map[string]any{"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/eso"}}}},
		{"spec role wins", "eks", `role_arn = "arn:aws:iam::2:role/mine"`, "arn:aws:iam::1:role/eso",
			map[string]any{"serviceAccount": map[string]any{"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::2:role/mine"}}}},
		{"gke service account", "gke", "", "eso@p.iam.gserviceaccount.com",
			map[string]any{"serviceAccount": map[string]any{"annotations": map[string]any{"iam.gke.io/gcp-service-account": "eso@p.iam.gserviceaccount.com"}}}},
		{"aks client id", "aks", "", "00000000-0000-0000-0000-000000000001",
			map[string]any{"serviceAccount": map[string]any{"annotations": map[string]any{"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001"}},
				"podLabels": map[string]any{"azure.workload.identity/use": "true"}}},
		{"no identity", "eks", "", "", map[string]any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := SecretsRelease(envFor(t, c.cluster, c.store), c.identity).Values
			delete(vals, "installCRDs")
			if !reflect.DeepEqual(vals, c.want) {
				t.Errorf("values %v, want %v", vals, c.want)
			}
		})
	}
}

// TestIdentityFromSecretsManager checks up's key store dispatch for
// key_store "aws-secrets-manager": the first use creates the age key there,
// the next reads the same key back. AWS cannot be reached from tests: a
// local server speaks Secrets Manager's JSON protocol (GetSecretValue,
// CreateSecret), found through AWS_ENDPOINT_URL_SECRETS_MANAGER as the SDK
// documents.
func TestIdentityFromSecretsManager(t *testing.T) {
	stored := map[string]string{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "secretsmanager.GetSecretValue":
			if v, ok := stored[in["SecretId"]]; ok {
				_ = json.NewEncoder(w).Encode(map[string]string{"Name": in["SecretId"], "SecretString": v})
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"not found"}`))
		case "secretsmanager.CreateSecret":
			stored[in["Name"]] = in["SecretString"]
			_ = json.NewEncoder(w).Encode(map[string]string{"Name": in["Name"]})
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer ts.Close()
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", ts.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	res := spec.Parse("e.hcl", []byte(`environment "prod" {
  cluster "kind" {}
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    key_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}
`), spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	ctx := context.Background()
	id, created, err := Identity(ctx, res.Env, nil)
	if err != nil || !created {
		t.Fatalf("first use: created %v, %v", created, err)
	}
	if !strings.Contains(stored["groundwork/prod/keys"], id.String()) {
		t.Fatalf("the key is not in secret groundwork/prod/keys: %v", stored)
	}
	again, created, err := Identity(ctx, res.Env, nil)
	if err != nil || created || again.String() != id.String() {
		t.Fatalf("second use: created %v, %v", created, err)
	}
}
