package up

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
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

// sealedEnv is a Sealed Secrets environment whose key store is keyFile,
// with the values given (HCL, "" for none).
func sealedEnv(t *testing.T, keyFile, values string) *spec.Environment {
	t.Helper()
	if values != "" {
		values = "values = " + values
	}
	res := spec.Parse("e.hcl", []byte(`environment "e" {
  cluster "kind" {}
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    key_store "file" { path = "`+keyFile+`" }
    `+values+`
  }
}
`), spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	return res.Env
}

// The controller's automatic key renewal is off whatever else the values
// say: a key it made would never reach the key store.
func TestSecretsReleaseTurnsRenewalOff(t *testing.T) {
	for _, values := range []string{"", `{ fullnameOverride = "mine", keyrenewperiod = 0 }`} {
		env := sealedEnv(t, "/k.pem", values)
		vals := SecretsRelease(env, "").Values
		if vals["keyrenewperiod"] != "0" {
			t.Errorf("values %s: keyrenewperiod = %v, want \"0\"", values, vals["keyrenewperiod"])
		}
		if vals["watchForSecrets"] != true {
			t.Errorf("values %s: watchForSecrets = %v: a key keys rotate applies would not be seen until a restart", values, vals["watchForSecrets"])
		}
		if values != "" && vals["fullnameOverride"] != "mine" {
			t.Errorf("the spec's values must win: %v", vals)
		}
	}
	// Built without the spec's validation (a program, not a file): still
	// off.
	env := sealedEnv(t, "/k.pem", "")
	env.Secrets.Values = map[string]any{"keyrenewperiod": "720h"}
	if v := SecretsRelease(env, "").Values["keyrenewperiod"]; v != "0" {
		t.Errorf("keyrenewperiod = %v", v)
	}
}

// up's secrets step keeps in the key store the keys the controller made on
// its own (renewal on, before groundwork turned it off), then applies every
// stored key as its own active key Secret, the first under the name it
// always had.
func TestSealingKeyCustody(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := filepath.Join(t.TempDir(), "keys", "e.pem")
	env := sealedEnv(t, store, "")
	ours := sealtest.MustPair(t, t0)
	if err := sealing.Create(store, ours); err != nil {
		t.Fatal(err)
	}
	renewed := sealtest.MustPair(t, t0.AddDate(0, 1, 0))
	cs := fake.NewClientset(
		sealing.KeySecret("kube-system", sealing.SecretName, ours),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "sealed-secrets-keyx7k2p",
			Labels: map[string]string{sealing.KeyLabel: "active"}}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": renewed.CertPEM, "tls.key": renewed.KeyPEM}},
	)
	r, err := New(Options{Env: env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	r.opts.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	if err := r.sealingKeys(); err != nil || len(r.sealing) != 1 {
		t.Fatalf("load: %v", err)
	}
	all, rescued, err := sealing.RescueReporting(ctx, cs, "kube-system", store, r.opts.Logf)
	if err != nil || len(rescued) != 1 || len(all) != 2 || !all[1].Same(renewed) {
		t.Fatalf("rescue: %v, %d rescued", err, len(rescued))
	}
	if len(logs) != 1 || !strings.Contains(logs[0], "kept sealing key "+renewed.ID()) || !strings.Contains(logs[0], "kube-system/sealed-secrets-keyx7k2p") || !strings.Contains(logs[0], store) {
		t.Errorf("log: %v", logs)
	}
	if stored, err := sealing.LoadKeys(store); err != nil || len(stored) != 2 {
		t.Fatalf("the store holds %d keys: %v", len(stored), err)
	}
	r.sealing = all
	objs := r.sealingSecrets()
	if len(objs) != 2 || objs[0].GetName() != "groundwork-sealing-key" || objs[1].GetName() != "groundwork-sealing-key-"+renewed.ID() {
		t.Fatalf("key Secrets: %v", objs)
	}
	for _, o := range objs {
		if o.GetNamespace() != "kube-system" || o.GetLabels()[sealing.KeyLabel] != "active" || o.GetLabels()["app.kubernetes.io/managed-by"] != "groundwork" {
			t.Errorf("%s: %v %v", o.GetName(), o.GetNamespace(), o.GetLabels())
		}
		if _, ok := o.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
			t.Errorf("%s: creationTimestamp in an applied object", o.GetName())
		}
	}
	if data, _, _ := unstructuredString(objs[1].Object, "data", "tls.key"); data == "" {
		t.Error("the key Secret has no tls.key")
	}
	// Nothing more to keep the next time.
	if _, rescued, err := sealing.RescueReporting(ctx, cs, "kube-system", store, r.opts.Logf); err != nil || len(rescued) != 0 {
		t.Errorf("second run: %v %v", rescued, err)
	}
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[f]
	}
	s, ok := cur.(string)
	return s, ok, nil
}

// rebuild loads every stored key and says, when the store is missing, that
// the sealing keys are.
func TestRebuildLoadsEverySealingKey(t *testing.T) {
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "e.pem")
	env := sealedEnv(t, store, "")
	r, err := New(Options{Env: env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Preflight(ctx)
	var mk *MissingKeyError
	if !errors.As(err, &mk) || !strings.Contains(err.Error(), "the sealing keys of environment e are missing: no key at "+store) || !strings.Contains(err.Error(), "SealedSecrets") {
		t.Fatalf("missing store: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := sealing.Create(store, sealtest.MustPair(t, t0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sealing.Append(store, sealtest.MustPair(t, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := r.loadKeys(ctx); err != nil || len(r.sealing) != 2 {
		t.Fatalf("loadKeys: %d keys, %v", len(r.sealing), err)
	}
	if objs := r.sealingSecrets(); len(objs) != 2 {
		t.Errorf("rebuild restores %d key Secrets, want 2", len(objs))
	}
	steps := r.RebuildSteps()
	if d := steps[2].Plan(); d.Name != StepRestoreKeys || !strings.Contains(d.Title, "sealing keys") {
		t.Errorf("restore step: %+v", d)
	}
}

// TestUntilWebhookAnswers retries an apply only while the API server cannot
// call the admission webhook, and gives up at the limit with that error.
func TestUntilWebhookAnswers(t *testing.T) {
	unanswered := errors.New(`Internal error occurred: failed calling webhook "validate.clustersecretstore.external-secrets.io": EOF`)
	calls, notes := 0, 0
	err := untilWebhookAnswers(context.Background(), time.Minute, func(context.Context) error {
		if calls++; calls < 2 {
			return unanswered
		}
		return nil
	}, func(error) { notes++ })
	if err != nil || calls != 2 || notes != 1 {
		t.Fatalf("err %v after %d calls, %d notes; want success on the second call, one note", err, calls, notes)
	}
	refused := errors.New(`admission webhook "validate.clustersecretstore.external-secrets.io" denied the request: region not found`)
	calls = 0
	if err := untilWebhookAnswers(context.Background(), time.Minute, func(context.Context) error { calls++; return refused }, func(error) {}); err != refused || calls != 1 {
		t.Errorf("a refusal is final: %v after %d calls", err, calls)
	}
	calls = 0
	if err := untilWebhookAnswers(context.Background(), 0, func(context.Context) error { calls++; return unanswered }, func(error) {}); err != unanswered || calls != 1 {
		t.Errorf("past the limit: %v after %d calls", err, calls)
	}
}
