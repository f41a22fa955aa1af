package rotate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/sealtest"
)

// quickPair is a sealing key pair made quickly (RSA 2048, where Generate
// makes RSA 4096) whose certificate starts at notBefore.

func useQuickPairs(t *testing.T) {
	old := generate
	generate = sealtest.Pair
	t.Cleanup(func() { generate = old })
}

func sealedEnv(t *testing.T, store, provider string) *spec.Environment {
	t.Helper()
	extra := `key_store "file" { path = "` + store + `" }`
	if provider == spec.SecretsExternalSecrets {
		extra = `external_store "aws-secrets-manager" { region = "eu-west-1" }`
	}
	res := spec.Parse("dev.hcl", []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "`+provider+`"
    `+extra+`
  }
}`), spec.Options{})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	return res.Env
}

// keys rotate on a Sealed Secrets environment: the keys the cluster has
// that the store lacks are kept first, then a new key more recent than
// every one goes into the store and into the cluster as an active key;
// every old key stays.
func TestRotateSealedSecrets(t *testing.T) {
	useQuickPairs(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := filepath.Join(t.TempDir(), "dev.pem")
	first := sealtest.MustPair(t, t0)
	if err := sealing.Create(store, first); err != nil {
		t.Fatal(err)
	}
	// The controller renewed on its own a month later (renewal was on).
	renewed := sealtest.MustPair(t, t0.AddDate(0, 1, 0))
	cs := fake.NewClientset(controller(true, "0"),
		sealing.KeySecret("kube-system", sealing.SecretName, first),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "sealed-secrets-keyq8z2w", Labels: map[string]string{sealing.KeyLabel: "active"}},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": renewed.CertPEM, "tls.key": renewed.KeyPEM}},
	)
	var logs []string
	// A clock behind the renewed key's certificate: the new key must
	// still be the most recent.
	now := t0.AddDate(0, 0, 3)
	res, err := Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsSealedSecrets), Clientset: cs,
		Now: func() time.Time { return now }, Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Sealed
	if s == nil || s.Key == nil || s.Keys != 3 || s.KeyStore != store || s.Namespace != "kube-system" || s.Secret != sealing.SecretNameOf(s.Key) {
		t.Fatalf("result %+v", s)
	}
	if len(s.Rescued) != 1 || !s.Rescued[0].Key.Same(renewed) || s.Rescued[0].Secret != "sealed-secrets-keyq8z2w" {
		t.Errorf("rescued %+v", s.Rescued)
	}
	if !s.Key.NotBefore().After(renewed.NotBefore()) {
		t.Errorf("the new key starts %v, not after the latest stored key (%v): the controller would not seal with it", s.Key.NotBefore(), renewed.NotBefore())
	}
	stored, err := sealing.LoadKeys(store)
	if err != nil || len(stored) != 3 || !stored[0].Same(first) || !stored[1].Same(renewed) || !stored[2].Same(s.Key) || !stored.Latest().Same(s.Key) {
		t.Fatalf("store: %d keys, %v", len(stored), err)
	}
	sec, err := cs.CoreV1().Secrets("kube-system").Get(ctx, s.Secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Labels[sealing.KeyLabel] != "active" || sec.Labels[sealing.ManagedByLabel] != "groundwork" || sec.Type != corev1.SecretTypeTLS ||
		string(sec.Data["tls.crt"]) != string(s.Key.CertPEM) || string(sec.Data["tls.key"]) != string(s.Key.KeyPEM) {
		t.Errorf("key Secret: %+v", sec)
	}
	// The old keys stay in the cluster; up later adds the rescued one
	// under groundwork's name, so nothing is named twice by groundwork.
	list, _ := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{LabelSelector: sealing.KeyLabel + "=active"})
	if len(list.Items) != 3 {
		t.Errorf("%d active keys in the cluster, want 3", len(list.Items))
	}
	if stored.SecretNameAt(2) != s.Secret {
		t.Errorf("up would apply the new key as %s, rotate applied %s: a second copy", stored.SecretNameAt(2), s.Secret)
	}
	if all := strings.Join(logs, "\n"); !strings.Contains(all, "kept sealing key "+renewed.ID()) || !strings.Contains(all, "applied Secret kube-system/"+s.Secret) {
		t.Errorf("logs:\n%s", all)
	}

	// A second rotation: one more key, the latest again.
	res2, err := Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsSealedSecrets), Clientset: cs, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Sealed.Keys != 4 || len(res2.Sealed.Rescued) != 0 || !res2.Sealed.Key.NotBefore().After(s.Key.NotBefore()) {
		t.Errorf("second rotation: %+v", res2.Sealed)
	}
}

// The new key goes into the store before the cluster: when the cluster
// refuses it, the store has it and the error says how to finish.
func TestRotateSealedSecretsStoreFirst(t *testing.T) {
	useQuickPairs(t)
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "dev.pem")
	if err := sealing.Create(store, sealtest.MustPair(t, time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(controller(true, "0"))
	cs.PrependReactor("patch", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("admission webhook said no")
	})
	_, err := Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsSealedSecrets), Clientset: cs})
	var ae *ApplyError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "is in the key store "+store) || !strings.Contains(err.Error(), "run groundwork up") {
		t.Fatalf("%v", err)
	}
	if stored, _ := sealing.LoadKeys(store); len(stored) != 2 || !stored[1].Same(ae.Key) {
		t.Errorf("the store has %d keys: the new one must be kept before it is applied", len(stored))
	}
}

func TestRotateRefusals(t *testing.T) {
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "none.pem")
	_, err := Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsSealedSecrets), Clientset: fake.NewClientset()})
	var nk *NoSealingKeyError
	if !errors.As(err, &nk) || !strings.Contains(err.Error(), "no key at "+store) || !strings.Contains(err.Error(), "groundwork up") {
		t.Errorf("no store: %v", err)
	}
	_, err = Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsExternalSecrets)})
	var ee *ExternalSecretsError
	if !errors.As(err, &ee) {
		t.Errorf("external secrets: %v", err)
	}
}

// controller is the Sealed Secrets controller's Deployment as the chart
// makes it, watching its key Secrets or not, with a renewal period.
func controller(watch bool, renew string) *appsv1.Deployment {
	args := []string{"--update-status", "--key-prefix", "sealed-secrets-key", "--key-renew-period", renew}
	if watch {
		args = append(args, "--watch-for-secrets")
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: facts.SealedSecretsName},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "controller", Image: "docker.io/bitnami/sealed-secrets-controller:0.39.1", Command: []string{"controller"}, Args: args}}}}}}
}

// TestRotateRefusesAControllerThatWouldNotTakeTheKey: a controller installed
// without --watch-for-secrets (by an earlier groundwork) would not open what
// is sealed for the new key until it restarts, and one renewing on its own
// makes keys the store never sees; both are refused before any change.
func TestRotateRefusesAControllerThatWouldNotTakeTheKey(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"no watch", []runtime.Object{controller(false, "0")}, "does not watch its key Secrets"},
		{"renewal on", []runtime.Object{controller(true, "720h")}, "renews its key on its own"},
		{"no controller", nil, "is not installed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "keys.pem")
			first := sealtest.MustPair(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			if err := sealing.Create(store, first); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(store)
			_, err := Run(ctx, Options{Env: sealedEnv(t, store, spec.SecretsSealedSecrets), Clientset: fake.NewClientset(c.objs...)})
			var ce *ControllerError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "run groundwork up first") && !strings.Contains(err.Error(), "Run groundwork up first") {
				t.Fatalf("err %v, want a ControllerError saying %q", err, c.want)
			}
			if after, _ := os.ReadFile(store); string(after) != string(before) {
				t.Error("the key store changed")
			}
		})
	}
}
