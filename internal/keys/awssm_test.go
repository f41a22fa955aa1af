package keys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fakeSecretsManager stands in for AWS Secrets Manager, which tests cannot
// reach: its JSON 1.1 protocol (X-Amz-Target GetSecretValue and
// CreateSecret) over a map.
func fakeSecretsManager(t *testing.T) (*secretsmanager.Client, map[string]string) {
	var mu sync.Mutex
	secrets := map[string]string{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(code, msg string) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
		}
		switch target := r.Header.Get("X-Amz-Target"); target {
		case "secretsmanager.GetSecretValue":
			id, _ := in["SecretId"].(string)
			v, ok := secrets[id]
			if !ok {
				fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"Name": id, "SecretString": v})
		case "secretsmanager.CreateSecret":
			name, _ := in["Name"].(string)
			if _, ok := secrets[name]; ok {
				fail("ResourceExistsException", "the secret already exists")
				return
			}
			secrets[name], _ = in["SecretString"].(string)
			_ = json.NewEncoder(w).Encode(map[string]any{"Name": name, "ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:" + name})
		default:
			fail("InvalidAction", target)
		}
	}))
	t.Cleanup(ts.Close)
	return secretsmanager.New(secretsmanager.Options{Region: "eu-west-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}), secrets
}

func TestSecretsManagerStore(t *testing.T) {
	ctx := context.Background()
	api, secrets := fakeSecretsManager(t)
	s := SecretsManagerStore{API: api, SecretName: "groundwork/prod/keys", Region: "eu-west-1"}

	var nf *NotFoundError
	if _, err := s.Load(ctx); !errors.As(err, &nf) || !strings.Contains(err.Error(), "AWS Secrets Manager secret groundwork/prod/keys in eu-west-1") {
		t.Fatalf("empty store: %v, want a NotFoundError naming the secret", err)
	}
	id, created, err := LoadOrCreateSecretsManager(ctx, s)
	if err != nil || !created {
		t.Fatalf("first use: created %v, %v", created, err)
	}
	if !strings.Contains(secrets["groundwork/prod/keys"], id.String()) || !strings.Contains(secrets["groundwork/prod/keys"], "# public key: "+id.Recipient().String()) {
		t.Errorf("stored secret is not the key file's text")
	}
	again, created, err := LoadOrCreateSecretsManager(ctx, s)
	if err != nil || created || again.String() != id.String() {
		t.Fatalf("second use: created %v, same key %v, %v", created, again != nil && again.String() == id.String(), err)
	}
	secrets["groundwork/prod/keys"] = "not a key"
	if _, err := s.Load(ctx); err == nil || !strings.Contains(err.Error(), "not an age identity") {
		t.Errorf("a secret that is no age key: %v", err)
	}
}
