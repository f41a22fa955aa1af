package sealing

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyLabel marks a Secret as a sealing key; "active" makes the controller
// load it (and seal new secrets with the active key whose certificate is
// the most recent).
const KeyLabel = "sealedsecrets.bitnami.com/sealed-secrets-key"

// KeyPair is a sealing key pair: PEM certificate and PEM RSA private key.
type KeyPair struct{ CertPEM, KeyPEM []byte }

// Generate makes a key pair like the controller's own: RSA 4096 and a
// self-signed certificate valid for ten years from now. The controller
// seals with the key whose certificate's NotBefore is the most recent, so
// NotBefore is now (to the second, as X.509 keeps it).
func Generate(now time.Time) (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sealed-secret", Organization: []string{"groundwork"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}, nil
}

// check tells whether the pair is a certificate and its RSA private key.
func (kp *KeyPair) check() error {
	pair, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return err
	}
	if _, ok := pair.PrivateKey.(*rsa.PrivateKey); !ok {
		return errors.New("the private key is not an RSA key (the Sealed Secrets controller uses RSA)")
	}
	return nil
}

// certDER is the certificate's DER bytes (the first certificate when
// CertPEM holds several).
func (kp *KeyPair) certDER() []byte {
	for rest := kp.CertPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return nil
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes
		}
	}
}

// Certificate parses the certificate.
func (kp *KeyPair) Certificate() (*x509.Certificate, error) {
	der := kp.certDER()
	if der == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(der)
}

// PublicKey is the certificate's RSA public key: what secrets are sealed
// for.
func (kp *KeyPair) PublicKey() (*rsa.PublicKey, error) {
	c, err := kp.Certificate()
	if err != nil {
		return nil, err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the certificate's key is not an RSA key (the Sealed Secrets controller uses RSA)")
	}
	return pub, nil
}

// PrivateKey parses the RSA private key.
func (kp *KeyPair) PrivateKey() (*rsa.PrivateKey, error) {
	pair, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	k, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not an RSA key")
	}
	return k, nil
}

// NotBefore is when the certificate starts being valid: the time the
// controller orders its keys by (the zero time when it does not parse).
func (kp *KeyPair) NotBefore() time.Time {
	c, err := kp.Certificate()
	if err != nil {
		return time.Time{}
	}
	return c.NotBefore
}

// ID names the key pair: the first 10 hex digits of the SHA-256 of its
// certificate's DER bytes.
func (kp *KeyPair) ID() string {
	sum := sha256.Sum256(kp.certDER())
	return hex.EncodeToString(sum[:])[:10]
}

// Same tells whether two pairs are the same key pair (the same certificate
// and private key).
func (kp *KeyPair) Same(o *KeyPair) bool {
	if !bytes.Equal(kp.certDER(), o.certDER()) {
		return false
	}
	a, errA := kp.PrivateKey()
	b, errB := o.PrivateKey()
	if errA != nil || errB != nil {
		return bytes.Equal(bytes.TrimSpace(kp.KeyPEM), bytes.TrimSpace(o.KeyPEM))
	}
	return a.Equal(b)
}

// Keys are every sealing key pair of an environment, oldest first, as the
// key store keeps them: the controller needs them all to decrypt
// SealedSecrets sealed over the years, and seals new ones with Latest.
type Keys []*KeyPair

// Latest is the key pair the controller seals new secrets with: the one
// whose certificate's NotBefore is the most recent (the controller's
// default --key-order-priority=CertNotBefore); on a tie the one stored
// first, as the controller keeps the key it registered first unless a
// later one is strictly more recent (groundwork applies the keys in store
// order, and keys rotate never makes a tie). Nil when there is none.
func (k Keys) Latest() *KeyPair {
	var latest *KeyPair
	var at time.Time
	for _, kp := range k {
		if nb := kp.NotBefore(); latest == nil || nb.After(at) {
			latest, at = kp, nb
		}
	}
	return latest
}

// Contains tells whether kp is one of the keys.
func (k Keys) Contains(kp *KeyPair) bool {
	for _, x := range k {
		if x.Same(kp) {
			return true
		}
	}
	return false
}

// SecretName is the name of the Secret that holds the first stored key
// pair in the controller's namespace; SecretNameOf names the others.
const SecretName = "groundwork-sealing-key"

// SecretNameAt is the name of the Secret that holds the i-th key pair: the
// first keeps SecretName (what groundwork has always used), the others
// SecretName-<ID>, a name that never changes while the store grows.
func (k Keys) SecretNameAt(i int) string {
	if i == 0 {
		return SecretName
	}
	return SecretNameOf(k[i])
}

// SecretNameOf is the name of the Secret of a key pair that is not the
// first in the store.
func SecretNameOf(kp *KeyPair) string { return SecretName + "-" + kp.ID() }

// Describe says which key pair this is, for people: its ID and when its
// certificate starts.
func (kp *KeyPair) Describe() string {
	return fmt.Sprintf("%s (certificate from %s)", kp.ID(), kp.NotBefore().UTC().Format(time.RFC3339))
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
