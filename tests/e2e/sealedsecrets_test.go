package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// sealedSecretsEnv is upEnv with Sealed Secrets in place of SOPS: the
// upstream chart from the harness's Helm repository, the sealing keys in a
// file key store.
var sealedSecretsEnv = strings.Replace(upEnv, `  secrets {
    key_store "file" { path = "keys/harness.agekey" }
  }`, `  secrets {
    provider = "sealed-secrets"
    chart { repository = var.charts }
    key_store "file" { path = "keys/harness-sealing.pem" }
  }`, 1)

// TestSealedSecretsSurviveRebuild is the Sealed Secrets disaster-recovery
// proof, on the real controller (v0.40.0, run by the host kubelet from the
// upstream chart), with Flux and with Argo CD: a Secret sealed with `secret
// set` (the public certificate from the key store, no cluster), and one
// sealed after the key was renewed with `keys rotate`, both decrypt after a
// wipe and `rebuild`; the controller never makes a key of its own (renewal
// off), so every key that sealed something is in the key store. A key
// store that lost the first key is refused by rebuild before it touches the
// cluster, naming the SealedSecret only that key opens.
func TestSealedSecretsSurviveRebuild(t *testing.T) {
	skipIfShort(t)
	t.Run("flux", func(t *testing.T) {
		if sealedSecretsEnv == upEnv {
			t.Fatal("upEnv's secrets block changed: update sealedSecretsEnv")
		}
		cp := harness.StartControlPlane(t)
		kubelet := harness.StartKubelet(t, cp)
		w := startFluxWorld(t)
		w.charts.Add(t, harness.SealedSecretsChart.Load(t))
		if err := os.WriteFile(w.file, []byte(sealedSecretsEnv), 0o644); err != nil {
			t.Fatal(err)
		}
		sealedSecretsSurviveRebuild(t, cp, kubelet, w.groundwork(t, cp.AdminKubeconfig()), w.repoURL, w.gitSrv,
			filepath.Join(w.dir, "keys", "harness-sealing.pem"), "clusters/harness")
	})
	t.Run("argocd", func(t *testing.T) {
		// argoEnv's secrets: Sealed Secrets (the default with Argo CD),
		// keys in keys/argo.pem.
		w := startArgoWorld(t)
		sealedSecretsSurviveRebuild(t, w.cp, w.kubelet, w.g, w.repoURL, w.gitSrv, argoSealingStore(t, w), "clusters/argo")
	})
}

func sealedSecretsSurviveRebuild(t *testing.T, cp *harness.ControlPlane, kubelet *harness.Kubelet, g *groundwork, repoURL string, gitSrv *harness.GitHTTPServer, store, repoPath string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	if err := kubelet.WaitReady(ctx, "sealed-secrets-controller"); err != nil {
		t.Fatalf("the Sealed Secrets controller does not run (logs in %s): %v", kubelet.LogDir(), err)
	}
	// set seals a Secret with groundwork (no cluster involved: the command
	// reads the certificate from the key store) and applies it with up.
	set := func(ref, kv string) {
		t.Helper()
		code, out, errOut := g.run(ctx, "secret", "set", g.file, ref, kv)
		if code != 0 {
			t.Fatalf("secret set %s: exit %d\n%s%s", ref, code, out, errOut)
		}
		if strings.Contains(out+errOut, strings.SplitN(kv, "=", 2)[1]) {
			t.Fatalf("secret set printed the value:\n%s%s", out, errOut)
		}
		if code, _, errOut := g.up(ctx); code != 0 {
			t.Fatalf("up after secret set: exit %d\n%s", code, errOut)
		}
	}
	// unsealed waits until the controller made the Secret with the value.
	unsealed := func(ns, name, key, want string) {
		t.Helper()
		waitFor(ctx, t, "Secret "+ns+"/"+name+" unsealed by the controller", func(ctx context.Context) error {
			s, err := cp.Client().CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("%w (controller log: %s)", err, kubelet.LogDir())
			}
			if got := string(s.Data[key]); got != want {
				return fmt.Errorf("%s is %q", key, got)
			}
			return nil
		})
	}
	controllerKeys := func() []string {
		t.Helper()
		l, err := cp.Client().CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{LabelSelector: sealing.KeyLabel})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range l.Items {
			names = append(names, s.Name)
		}
		return names
	}

	set("shop/db", "password=sealed-before-renewal")
	unsealed("shop", "db", "password", "sealed-before-renewal")
	if keys := controllerKeys(); len(keys) != 1 {
		t.Fatalf("sealing keys in the cluster: %v; want groundwork's one (the controller must not make its own)", keys)
	}

	// A forced renewal: keys rotate makes a new key, keeps the old one.
	code, out, errOut := g.run(ctx, "keys", "rotate", g.file)
	if code != 0 {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("keys rotate:\n%s%s", out, errOut)
	if keys := controllerKeys(); len(keys) != 2 {
		t.Fatalf("sealing keys in the cluster after keys rotate: %v; want the old and the new", keys)
	}
	set("shop/api", "token=sealed-after-renewal")
	unsealed("shop", "api", "token", "sealed-after-renewal")

	// The first was sealed with the first key, the second with the new one
	// (the latest in the key store), each for its own namespace and name.
	wd := harness.CloneGitWorkdir(t, repoURL, gitSrv.BasicAuth())
	keys := storedPrivateKeys(t, store)
	if len(keys) != 2 {
		t.Fatalf("the key store holds %d keys, want the old and the new", len(keys))
	}
	for _, c := range []struct {
		file, label string
		key         int
	}{{"db.yaml", "shop/db", 0}, {"api.yaml", "shop/api", 1}} {
		if got := sealedWith(t, filepath.Join(wd.Dir, repoPath, "secrets/shop", c.file), c.label, keys); got != c.key {
			t.Errorf("%s was sealed with key %d of the store, want %d", c.file, got, c.key)
		}
	}

	cp.Wipe(t)
	// A key store that lost the first key (a backup older than keys
	// rotate's... or newer and partial): rebuild refuses before touching the
	// cluster, naming the SealedSecret only the lost key opens.
	stored, err := sealing.LoadKeys(store)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(store, store+".bak"); err != nil {
		t.Fatal(err)
	}
	if err := sealing.Create(store, stored[1]); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = g.run(ctx, "rebuild", g.file)
	if want := repoPath + "/secrets/shop/db.yaml: SealedSecret shop/db does not unseal with any of the key store's sealing keys (" + stored[1].ID() + ")"; code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "stopped before touching the cluster") || strings.Contains(errOut, "shop/api") {
		t.Errorf("rebuild with a store that lost a key: exit %d, want 1 and %q (and nothing of shop/api, which the store opens)\n%s%s", code, want, out, errOut)
	}
	if keys := controllerKeys(); len(keys) != 0 {
		t.Errorf("rebuild with a store that lost a key touched the cluster: sealing keys %v", keys)
	}
	if err := os.Rename(store+".bak", store); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out, errOut = g.run(ctx, "rebuild", g.file, "--output", "json")
	if code != 0 {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	var doc cmdup.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	unsealed("shop", "db", "password", "sealed-before-renewal")
	unsealed("shop", "api", "token", "sealed-after-renewal")
	t.Logf("FIGURE rebuild with Sealed Secrets (%s): RTO %d ms, both Secrets unsealed after %s", filepath.Base(repoPath), doc.RTOMS, time.Since(start).Round(time.Millisecond))
	if keys := controllerKeys(); len(keys) != 2 {
		t.Errorf("sealing keys after rebuild: %v; want both from the key store", keys)
	}
}

// storedPrivateKeys reads the RSA keys of a sealing key store file, oldest
// first.
func storedPrivateKeys(t *testing.T, path string) []*rsa.PrivateKey {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []*rsa.PrivateKey
	for rest := raw; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return keys
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.(*rsa.PrivateKey))
		}
	}
}

// sealedWith returns which of keys opens the session key of every value of
// the SealedSecret in file (strict scope: label is namespace/name), -1 if
// none does. The format is the controller's: a 2-byte length, the RSA-OAEP
// (SHA-256) sealed session key, then the AES-GCM ciphertext.
func sealedWith(t *testing.T, file, label string, keys []*rsa.PrivateKey) int {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ss struct {
		Kind string
		Spec struct {
			EncryptedData map[string]string `json:"encryptedData"`
		}
	}
	if err := yaml.Unmarshal(raw, &ss); err != nil || ss.Kind != "SealedSecret" || len(ss.Spec.EncryptedData) == 0 {
		t.Fatalf("%s is not a SealedSecret (%v):\n%s", file, err, raw)
	}
	found := -1
	for k, v := range ss.Spec.EncryptedData {
		ct, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(ct) < 2 {
			t.Fatalf("%s: value %s is not base64 ciphertext: %v", file, k, err)
		}
		n := int(binary.BigEndian.Uint16(ct))
		if len(ct) < 2+n {
			t.Fatalf("%s: value %s is truncated", file, k)
		}
		opened := -1
		for i, key := range keys {
			if _, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, key, ct[2:2+n], []byte(label)); err == nil {
				opened = i
			}
		}
		if found != -1 && opened != found {
			t.Fatalf("%s: values sealed with different keys", file)
		}
		found = opened
	}
	return found
}

// argoSealingStore is where argoEnv keeps the sealing keys (relative to
// its file's folder).
func argoSealingStore(t *testing.T, w *argoWorld) string {
	t.Helper()
	return filepath.Join(w.dir, "keys", "argo.sealed-secrets.pem")
}
