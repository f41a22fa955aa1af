package rotate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// SealedResult says what a Sealed Secrets rotation did.
type SealedResult struct {
	// Key is the new sealing key pair: the controller seals new secrets
	// with it (its certificate is the most recent).
	Key *sealing.KeyPair
	// Namespace and Secret are where it was applied as an active key.
	Namespace, Secret string
	// KeyStore is the store it was appended to; Keys is how many key pairs
	// the store holds now, every one of them also in the cluster.
	KeyStore string
	Keys     int
	// Rescued are keys found in the cluster that the store lacked, kept
	// in the store before the new one was made.
	Rescued []sealing.Rescued
}

// ExternalSecretsError says there is no key of groundwork's to rotate.
type ExternalSecretsError struct{ Environment string }

func (e *ExternalSecretsError) Error() string {
	return fmt.Sprintf("environment %s uses External Secrets: groundwork keeps no key for it (the secret values stay in the external store), so there is nothing for keys rotate to rotate; rotate the credentials in the store itself", e.Environment)
}

// NoSealingKeyError says the key store has no sealing key to renew: up
// creates the first.
type NoSealingKeyError struct{ Environment, Where string }

func (e *NoSealingKeyError) Error() string {
	return fmt.Sprintf("environment %s has no sealing key to rotate: no key at %s. groundwork up creates the first key pair and installs the Sealed Secrets controller: run it first, or point secrets.key_store at your key store", e.Environment, e.Where)
}

// ApplyError says the new key is in the key store but not in the
// cluster: up applies every stored key.
type ApplyError struct {
	Key                         *sealing.KeyPair
	KeyStore, Namespace, Secret string
	Err                         error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("the new sealing key %s is in the key store %s, but applying it as Secret %s/%s failed: %v. Nothing sealed before is lost, but secret set already seals for the new key: run groundwork up (it applies every stored key) before the next secret set. Running keys rotate again would add yet another key rather than finish this one", e.Key.ID(), e.KeyStore, e.Namespace, e.Secret, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// ControllerError says the Sealed Secrets controller would not take a new
// key as it comes: it was installed without watching its key Secrets, or
// with its own key renewal on (by an earlier groundwork, or by hand).
type ControllerError struct {
	Namespace, Deployment, Why string
}

func (e *ControllerError) Error() string {
	return fmt.Sprintf("the Sealed Secrets controller (Deployment %s/%s) %s, so a key keys rotate added would not be used as it should. Run groundwork up first (it installs the controller watching its keys, with its own renewal off); nothing was changed", e.Namespace, e.Deployment, e.Why)
}

// checkController reads the controller's Deployment: it must watch its key
// Secrets (--watch-for-secrets; without it a key Secret added later is
// registered only when the controller restarts, and what secret set seals
// for the new key would not open) and not renew keys on its own.
func checkController(ctx context.Context, cs kubernetes.Interface, ns string) error {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, facts.SealedSecretsName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &ControllerError{Namespace: ns, Deployment: facts.SealedSecretsName, Why: "is not installed"}
	}
	if err != nil {
		return err
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if !strings.Contains(c.Image, "sealed-secrets") {
			continue
		}
		args := append(append([]string{}, c.Command...), c.Args...)
		watch, renewOff := false, false
		for i, a := range args {
			switch {
			case a == "--watch-for-secrets" || a == "--watch-for-secrets=true":
				watch = true
			case a == "--key-renew-period" && i+1 < len(args):
				renewOff = isZeroDuration(args[i+1])
			case strings.HasPrefix(a, "--key-renew-period="):
				renewOff = isZeroDuration(strings.TrimPrefix(a, "--key-renew-period="))
			}
		}
		switch {
		case !watch:
			return &ControllerError{Namespace: ns, Deployment: d.Name, Why: "does not watch its key Secrets (--watch-for-secrets)"}
		case !renewOff:
			return &ControllerError{Namespace: ns, Deployment: d.Name, Why: "renews its key on its own (--key-renew-period is not 0)"}
		}
		return nil
	}
	return &ControllerError{Namespace: ns, Deployment: d.Name, Why: "runs no sealed-secrets container"}
}

func isZeroDuration(s string) bool {
	d, err := time.ParseDuration(strings.Trim(s, `"`))
	return err == nil && d == 0
}

// generate makes the new key pair (tests make quicker ones).
var generate = sealing.Generate

// RunSealedSecrets renews the sealing key of a Sealed Secrets environment
// on purpose: it keeps in the key store any key the cluster has and the
// store lacks, generates a new key pair whose certificate is more recent
// than every stored one, appends it to the key store first (a crash never
// leaves a key in the cluster that the store lacks), then applies it as an
// active key Secret. The controller registers it as it comes and seals new
// secrets with it; the old keys stay, in the store and in the cluster, so
// every SealedSecret sealed before still decrypts, and nothing in Git needs
// re-encrypting.
func RunSealedSecrets(ctx context.Context, o Options) (*SealedResult, error) {
	o.defaults()
	env := o.Env
	s := env.Secrets
	if s.KeyStore.Type != spec.KeyStoreFile {
		return nil, fmt.Errorf("keys rotate needs a key store it can write: key_store %q is not; Sealed Secrets keeps its keys in key_store \"file\"", s.KeyStore.Type)
	}
	path := s.KeyStore.Path
	if _, err := sealing.LoadKeys(path); err != nil {
		var nf *keys.NotFoundError
		if errors.As(err, &nf) {
			return nil, &NoSealingKeyError{Environment: env.Name, Where: nf.Where}
		}
		return nil, err
	}
	cs := o.Clientset
	if cs == nil {
		kubeconfig, kctx := facts.Kubeconfig(env, o.StateDir)
		kc, err := kube.Connect(kubeconfig, kctx)
		if err != nil {
			return nil, err
		}
		if _, err := kc.ServerVersion(ctx); err != nil {
			return nil, err
		}
		cs = kc.Clientset
	}
	if err := checkController(ctx, cs, s.Namespace); err != nil {
		return nil, err
	}
	res := &SealedResult{Namespace: s.Namespace, KeyStore: path}

	// 1. What the cluster has, the store keeps (a key the controller made
	// on its own before groundwork turned its renewal off).
	stored, rescued, err := sealing.RescueReporting(ctx, cs, s.Namespace, path, o.Logf)
	if err != nil {
		return nil, err
	}
	res.Rescued = rescued

	// 2. A new key pair, more recent than every stored one: the
	// controller seals with the latest certificate.
	notBefore := o.Now().UTC().Truncate(time.Second)
	if latest := stored.Latest(); latest != nil && !latest.NotBefore().Before(notBefore) {
		notBefore = latest.NotBefore().Add(time.Second)
	}
	kp, err := generate(notBefore)
	if err != nil {
		return nil, err
	}

	// 3. In the store first.
	all, _, err := sealing.Append(path, kp)
	if err != nil {
		return nil, fmt.Errorf("keep the new sealing key in %s (nothing was changed in the cluster): %w", path, err)
	}
	res.Key, res.Keys = kp, len(all)
	res.Secret = all.SecretNameAt(len(all) - 1)
	o.Logf("kept the new sealing key %s in %s (%d keys)", kp.Describe(), path, len(all))

	// 4. Then in the cluster, as an active key.
	if err := applyKeySecret(ctx, cs, sealing.KeySecret(s.Namespace, res.Secret, kp)); err != nil {
		return res, &ApplyError{Key: kp, KeyStore: path, Namespace: s.Namespace, Secret: res.Secret, Err: err}
	}
	o.Logf("applied Secret %s/%s: the controller seals new secrets with key %s", s.Namespace, res.Secret, kp.ID())
	return res, nil
}

// applyKeySecret applies a key Secret with server-side apply as groundwork
// (as up applies the same Secret).
func applyKeySecret(ctx context.Context, cs kubernetes.Interface, s *corev1.Secret) error {
	ac := corev1ac.Secret(s.Name, s.Namespace).WithLabels(s.Labels).WithType(s.Type).WithData(s.Data)
	_, err := cs.CoreV1().Secrets(s.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true})
	return err
}
