package awsfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// SecretsManager is the fake: GetSecretValue, DescribeSecret, CreateSecret
// and PutSecretValue (X-Amz-Target) over a map, every call recorded.
type SecretsManager struct {
	srv *httptest.Server

	mu      sync.Mutex
	secrets map[string]string
	calls   []string
	down    bool
}

// StartSecretsManager starts the fake; it stops when the test ends.
func StartSecretsManager(t testing.TB) *SecretsManager {
	sm := &SecretsManager{secrets: map[string]string{}}
	sm.srv = httptest.NewServer(http.HandlerFunc(sm.serve))
	t.Cleanup(sm.srv.Close)
	return sm
}

// URL is the endpoint to point an AWS client at.
func (sm *SecretsManager) URL() string { return sm.srv.URL }

// Put sets a secret's string value.
func (sm *SecretsManager) Put(name, value string) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.secrets[name] = value
}

// Get returns a secret's string value.
func (sm *SecretsManager) Get(name string) (string, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	v, ok := sm.secrets[name]
	return v, ok
}

// Calls are the operations served so far ("GetSecretValue my-secret").
func (sm *SecretsManager) Calls() []string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return append([]string(nil), sm.calls...)
}

// SetDown makes every call fail as an unreachable service does (the
// connection is closed without an answer) until SetDown(false).
func (sm *SecretsManager) SetDown(down bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.down = down
}

func (sm *SecretsManager) serve(w http.ResponseWriter, r *http.Request) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.down {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(code, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	id, _ := in["SecretId"].(string)
	if id == "" {
		id, _ = in["Name"].(string)
	}
	sm.calls = append(sm.calls, op+" "+id)
	arn := "arn:aws:secretsmanager:eu-west-1:000000000000:secret:" + id
	switch op {
	case "GetSecretValue":
		v, ok := sm.secrets[id]
		if !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": id, "SecretString": v,
			"VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(time.Now().Unix())})
	case "DescribeSecret":
		if _, ok := sm.secrets[id]; !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": id})
	case "CreateSecret":
		if _, ok := sm.secrets[id]; ok {
			fail("ResourceExistsException", "the secret already exists")
			return
		}
		sm.secrets[id], _ = in["SecretString"].(string)
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": id, "ARN": arn})
	case "PutSecretValue":
		if _, ok := sm.secrets[id]; !ok {
			fail("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		sm.secrets[id], _ = in["SecretString"].(string)
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": id, "ARN": arn, "VersionId": "v2"})
	default:
		fail("InvalidAction", op)
	}
}
