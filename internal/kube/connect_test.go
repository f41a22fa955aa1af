package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
- name: b
  cluster: {server: "https://127.0.0.1:7443"}
users:
- name: u
  user: {token: t}
contexts:
- name: kind-dev
  context: {cluster: a, user: u}
- name: prod
  context: {cluster: b, user: u}
`

// TestConnectKubeconfigErrors: a kubeconfig that is not there, a context it
// does not have (listing those it has) and one without a current context
// are *KubeconfigErrors that say so; a context it has connects.
func TestConnectKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, context string
		want          []string
	}{
		{filepath.Join(dir, "missing"), "", []string{"kubeconfig " + filepath.Join(dir, "missing") + " does not exist", "kind get kubeconfig"}},
		{path, "staging", []string{`has no context "staging"; it has: kind-dev, prod`}},
		{path, "", []string{"kind-dev, prod"}},
	}
	for _, c := range cases {
		_, err := Connect(c.path, c.context)
		var ke *KubeconfigError
		if !errors.As(err, &ke) {
			t.Errorf("Connect(%s, %q): %v, want a *KubeconfigError", c.path, c.context, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Connect(%s, %q): %q does not say %q", c.path, c.context, err, w)
			}
		}
		if strings.Contains(err.Error(), "stat ") {
			t.Errorf("a raw Go error: %q", err)
		}
	}
	// A kubeconfig whose CA file went: not "the kubeconfig does not exist".
	noCA := filepath.Join(dir, "no-ca")
	if err := os.WriteFile(noCA, []byte(strings.Replace(twoContexts, `{server: "https://127.0.0.1:7443"}`, `{server: "https://127.0.0.1:7443", certificate-authority: /gone/ca.crt}`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(noCA, "prod"); err == nil || strings.Contains(err.Error(), "does not exist: give the path") || !strings.Contains(err.Error(), "/gone/ca.crt") {
		t.Errorf("a missing CA file: %v", err)
	}
	c, err := Connect(path, "prod")
	if err != nil || c.Config.Host != "https://127.0.0.1:7443" {
		t.Fatalf("context prod: %v %v", err, c)
	}
}
