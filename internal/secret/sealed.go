package secret

import (
	"context"
	"errors"
	"fmt"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// setSealed seals the Secret for the latest key pair of the key store and
// commits the SealedSecret where a SOPS Secret would be.
func setSealed(ctx context.Context, env *spec.Environment, git *gitrepo.Client, r Ref, data map[string][]byte) (Result, error) {
	ks := env.Secrets.KeyStore
	if ks.Type != spec.KeyStoreFile {
		return Result{}, fmt.Errorf("secret set reads the sealing certificate from a file key store; key_store %q is not one (use key_store \"file\" with sealed-secrets)", ks.Type)
	}
	k, err := sealing.LoadKeys(ks.Path)
	var nf *keys.NotFoundError
	if errors.As(err, &nf) {
		return Result{}, &NoSealingKeyError{Environment: env.Name, Where: nf.Where}
	}
	if err != nil {
		return Result{}, err
	}
	kp := k.Latest()
	enc, err := Seal(kp, r, data)
	if err != nil {
		return Result{}, err
	}
	res, err := commit(ctx, env, git, r, data, enc, ", sealed for key "+kp.ID())
	return Result{Result: res, Provider: spec.SecretsSealedSecrets, SealingKey: kp}, err
}

// Seal is the SealedSecret (bitnami.com/v1alpha1) of the Opaque Secret r
// with data, as kubeseal writes it: every value sealed on its own for the
// key pair's public key with strict scope (only r's namespace and name can
// unseal it), the Secret's metadata as the template. The private key is
// not used.
func Seal(kp *sealing.KeyPair, r Ref, data map[string][]byte) ([]byte, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("the sealing certificate: %w", err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	ss, err := ssv1alpha1.NewSealedSecret(scheme.Codecs, pub, s)
	if err != nil {
		return nil, err
	}
	ss.TypeMeta = metav1.TypeMeta{APIVersion: ssv1alpha1.SchemeGroupVersion.String(), Kind: "SealedSecret"}
	return marshal(ss, []string{"spec", "template", "metadata"})
}
