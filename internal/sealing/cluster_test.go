package sealing

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// keySecret is a key Secret as the controller writes it (generateName
// sealed-secrets-key, the active label and nothing else).
func keySecret(ns, name string, kp *KeyPair, label string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM}}
	if label != "" {
		s.Labels = map[string]string{KeyLabel: label}
	}
	return s
}

// Rescue appends to the store the active key pairs of the controller's
// namespace that it lacks (a key the controller renewed on its own), oldest
// first, and only those.
func TestRescue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dev.pem")
	ours := pair(t, t0)
	if err := Create(path, ours); err != nil {
		t.Fatal(err)
	}
	renewed1, renewed2 := pair(t, t0.Add(30*24*time.Hour)), pair(t, t0.Add(60*24*time.Hour))
	elsewhere, compromised := pair(t, t0.Add(time.Hour)), pair(t, t0.Add(2*time.Hour))
	broken := keySecret("kube-system", "sealed-secrets-keybroken", ours, "active")
	broken.Data[corev1.TLSPrivateKeyKey] = []byte("not a key")
	cs := fake.NewClientset(
		keySecret("kube-system", SecretName, ours, "active"),
		keySecret("kube-system", "sealed-secrets-keyzz", renewed1, "active"), // sorts after the other: order by certificate
		keySecret("kube-system", "sealed-secrets-keyaa", renewed2, "active"),
		keySecret("kube-system", "sealed-secrets-keycc", renewed1, "active"), // the same key twice
		keySecret("kube-system", "sealed-secrets-keyold", compromised, "compromised"),
		keySecret("other", "sealed-secrets-keyxx", elsewhere, "active"),
		broken,
	)
	var skipped []string
	all, rescued, err := Rescue(ctx, cs, "kube-system", path, func(ck ClusterKey) { skipped = append(skipped, ck.Secret) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rescued) != 2 || !rescued[0].Key.Same(renewed1) || !rescued[1].Key.Same(renewed2) || rescued[1].Secret != "sealed-secrets-keyaa" {
		t.Fatalf("rescued %+v, want the two renewed keys, oldest first", rescued)
	}
	if rescued[0].Secret != "sealed-secrets-keycc" && rescued[0].Secret != "sealed-secrets-keyzz" {
		t.Errorf("rescued from %s", rescued[0].Secret)
	}
	if len(skipped) != 1 || skipped[0] != "sealed-secrets-keybroken" {
		t.Errorf("skipped %v", skipped)
	}
	stored, err := LoadKeys(path)
	if err != nil || len(stored) != 3 || len(all) != 3 || !stored[0].Same(ours) || !stored[1].Same(renewed1) || !stored[2].Same(renewed2) {
		t.Fatalf("store: %d pairs, %v", len(stored), err)
	}
	if !stored.Latest().Same(renewed2) {
		t.Error("the latest key is not the one the controller seals with")
	}
	before, _ := os.ReadFile(path)
	if _, rescued, err := Rescue(ctx, cs, "kube-system", path, nil); err != nil || len(rescued) != 0 {
		t.Errorf("second rescue: %v %v", rescued, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a rescue with nothing missing rewrote the store")
	}
	// A namespace that does not exist yet (first up) has no keys.
	if _, rescued, err := Rescue(ctx, cs, "sealed-secrets", path, nil); err != nil || len(rescued) != 0 {
		t.Errorf("empty namespace: %v %v", rescued, err)
	}
}

func TestFromSecretTakesTheFirstCertificate(t *testing.T) {
	a, b := pair(t, t0), pair(t, t0.Add(time.Hour))
	s := keySecret("kube-system", "k", a, "active")
	s.Data[corev1.TLSCertKey] = append(append([]byte{}, a.CertPEM...), b.CertPEM...)
	kp, err := FromSecret(s)
	if err != nil || !kp.Same(a) {
		t.Fatalf("%v", err)
	}
	s.Data[corev1.TLSCertKey] = b.CertPEM
	if _, err := FromSecret(s); err == nil {
		t.Error("a key with another key's certificate was accepted")
	}
}

// TestRescueMakesAMissingStore: up run where the key store is not (another
// machine) against a live cluster makes the store from the cluster's keys,
// oldest first, rather than a new key that would shadow them.
func TestRescueMakesAMissingStore(t *testing.T) {
	ctx := context.Background()
	a, b := pair(t, t0), pair(t, t0.AddDate(0, 1, 0))
	cs := fake.NewClientset(keySecret("kube-system", "k-b", b, "active"), keySecret("kube-system", "k-a", a, "active"))
	path := filepath.Join(t.TempDir(), "keys", "env.pem")
	all, rescued, err := Rescue(ctx, cs, "kube-system", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || len(rescued) != 2 || !all[0].Same(a) || !all[1].Same(b) {
		t.Fatalf("store %d keys, %d rescued; want both, oldest first", len(all), len(rescued))
	}
	if stored, err := LoadKeys(path); err != nil || len(stored) != 2 {
		t.Fatalf("the store was not written: %d keys, %v", len(stored), err)
	}
	// An empty cluster leaves the missing store missing (up then makes the
	// first key).
	empty := filepath.Join(t.TempDir(), "none.pem")
	if all, _, err := Rescue(ctx, fake.NewClientset(), "kube-system", empty, nil); err != nil || len(all) != 0 {
		t.Fatalf("empty cluster: %d keys, %v", len(all), err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("a store was made from nothing: %v", err)
	}
}
