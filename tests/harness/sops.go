package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AgeKey is an age X25519 identity for SOPS tests.
type AgeKey struct {
	// Identity is the secret key ("AGE-SECRET-KEY-1..."); put it in a Secret
	// under a key ending in ".agekey" for Flux decryption.
	Identity string
	// Recipient is the public key ("age1...").
	Recipient string
}

// NewAgeKey generates an age identity with the pinned age-keygen.
func NewAgeKey(t testing.TB) AgeKey {
	t.Helper()
	out := runTool(t, "age-keygen", nil, "")
	var k AgeKey
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "# public key: "):
			k.Recipient = strings.TrimPrefix(line, "# public key: ")
		case strings.HasPrefix(line, "AGE-SECRET-KEY-"):
			k.Identity = line
		}
	}
	if k.Identity == "" || k.Recipient == "" {
		t.Fatalf("unexpected age-keygen output:\n%s", out)
	}
	return k
}

// SopsEncryptYAML encrypts a Kubernetes manifest for recipient with the
// pinned sops CLI, encrypting only data/stringData as Flux users do.
func SopsEncryptYAML(t testing.TB, recipient string, manifest []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(in, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	return runTool(t, "sops", []string{"--encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$", in}, dir)
}

func runTool(t testing.TB, name string, args []string, dir string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	bin, err := Binary(ctx, name)
	if err != nil {
		t.Fatalf("test binary %s: %v", name, err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	// Keep the user's sops/age configuration out of the way.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "SOPS_AGE_KEY_FILE=", "SOPS_AGE_KEY=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(&ProcessError{Name: name, Command: strings.Join(cmd.Args, " "), LogTail: stderr.String(), Err: err})
	}
	return stdout.Bytes()
}
