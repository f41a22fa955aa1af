package sealing

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/internal/keys"
)

// ManagedByLabel marks the objects groundwork manages.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// KeySecret is a key pair as an active key Secret of the controller in
// namespace.
func KeySecret(namespace, name string, kp *KeyPair) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			Labels: map[string]string{KeyLabel: "active", ManagedByLabel: "groundwork"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM},
	}
}

// Secrets are every key pair as its own active key Secret in namespace,
// named by SecretNameAt.
func (k Keys) Secrets(namespace string) []*corev1.Secret {
	out := make([]*corev1.Secret, len(k))
	for i, kp := range k {
		out[i] = KeySecret(namespace, k.SecretNameAt(i), kp)
	}
	return out
}

// ClusterKey is a key Secret the controller loads.
type ClusterKey struct {
	// Secret is the Secret's name.
	Secret string
	// Key is its key pair; nil when it does not hold one (Err says why).
	Key *KeyPair
	Err error
}

// ClusterKeys reads the active key Secrets in the controller's namespace
// (those labelled KeyLabel=active, as the controller finds them), in name
// order. A namespace that does not exist has none.
func ClusterKeys(ctx context.Context, cs kubernetes.Interface, namespace string) ([]ClusterKey, error) {
	list, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: KeyLabel + "=active"})
	if err != nil {
		return nil, fmt.Errorf("read the sealing keys in namespace %s: %w", namespace, err)
	}
	var out []ClusterKey
	for _, s := range list.Items {
		ck := ClusterKey{Secret: s.Name}
		kp, err := FromSecret(&s)
		if err != nil {
			ck.Err = err
		} else {
			ck.Key = kp
		}
		out = append(out, ck)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Secret < out[j].Secret })
	return out, nil
}

// FromSecret reads the key pair of a key Secret: its first certificate
// and its private key, as the controller reads them.
func FromSecret(s *corev1.Secret) (*KeyPair, error) {
	kp := &KeyPair{KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}
	if der := (&KeyPair{CertPEM: s.Data[corev1.TLSCertKey]}).certDER(); der != nil {
		kp.CertPEM = pemCert(der)
	}
	if err := kp.check(); err != nil {
		return nil, fmt.Errorf("Secret %s/%s is not a sealing key pair: %w", s.Namespace, s.Name, err)
	}
	return kp, nil
}

// Rescued is a key pair found in the cluster that the key store lacked,
// now appended to it.
type Rescued struct {
	// Secret is the Secret it came from.
	Secret string
	Key    *KeyPair
}

// Rescue appends to the key store at path every active key pair in the
// controller's namespace that the store does not hold (a key the
// controller made on its own while its automatic renewal was on, say),
// oldest first, and returns every stored pair and those it added. Key
// Secrets that hold no key pair are passed to skipped (nil: ignored): the
// controller cannot use them either. The store must exist.
func Rescue(ctx context.Context, cs kubernetes.Interface, namespace, path string, skipped func(ClusterKey)) (Keys, []Rescued, error) {
	stored, err := LoadKeys(path)
	var nf *keys.NotFoundError
	if errors.As(err, &nf) {
		stored, err = nil, nil // a store to make from the cluster's keys, if it has any
	}
	if err != nil {
		return nil, nil, err
	}
	cks, err := ClusterKeys(ctx, cs, namespace)
	if err != nil {
		return nil, nil, err
	}
	var missing []*KeyPair
	from := map[*KeyPair]string{}
	for _, ck := range cks {
		switch {
		case ck.Key == nil:
			if skipped != nil {
				skipped(ck)
			}
		case !stored.Contains(ck.Key) && !Keys(missing).Contains(ck.Key):
			missing = append(missing, ck.Key)
			from[ck.Key] = ck.Secret
		}
	}
	if len(missing) == 0 {
		return stored, nil, nil
	}
	SortOldestFirst(missing)
	all, added, err := Append(path, missing...)
	if err != nil {
		return nil, nil, fmt.Errorf("keep the sealing keys found in namespace %s in %s: %w", namespace, path, err)
	}
	out := make([]Rescued, len(added))
	for i, kp := range added {
		out[i] = Rescued{Secret: from[kp], Key: kp}
	}
	return all, out, nil
}

// RescueReporting is Rescue, saying what it kept (and which key
// Secrets it could not read) through logf.
func RescueReporting(ctx context.Context, cs kubernetes.Interface, namespace, storePath string, logf func(string, ...any)) (Keys, []Rescued, error) {
	all, rescued, err := Rescue(ctx, cs, namespace, storePath, func(ck ClusterKey) {
		logf("Secret %s/%s is labelled as an active sealing key but holds none (%v): the controller cannot use it either; left as it is", namespace, ck.Secret, ck.Err)
	})
	for _, x := range rescued {
		logf("kept sealing key %s from Secret %s/%s in the key store %s: the controller made it, and the SealedSecrets sealed with it now survive a rebuild", x.Key.Describe(), namespace, x.Secret, storePath)
	}
	return all, rescued, err
}
