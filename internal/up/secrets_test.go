package up

import (
	"reflect"
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
