package sealing

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/groundwork-dev/groundwork/internal/keys"
)

// KeyLabel marks a Secret as a sealing key; "active" makes the controller
// seal new secrets with it.
const KeyLabel = "sealedsecrets.bitnami.com/sealed-secrets-key"

// KeyPair is a sealing key pair: PEM certificate and PEM RSA private key.
type KeyPair struct{ CertPEM, KeyPEM []byte }

// Generate makes a key pair like the controller's own: RSA 4096 and a
// self-signed certificate valid for ten years.
func Generate(now time.Time) (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sealed-secret", Organization: []string{"groundwork"}},
		NotBefore:             now.Add(-time.Hour),
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

// Load reads a key pair from a file store; a missing file is a
// *keys.NotFoundError, a file others can read is refused.
func Load(path string) (*KeyPair, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &keys.NotFoundError{Where: path}
	}
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("refusing to use the sealing key in %s: others can access it (mode %04o); run chmod 600 %s, and rotate the key if it may have leaked", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kp KeyPair
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			kp.CertPEM = pem.EncodeToMemory(blk)
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			kp.KeyPEM = pem.EncodeToMemory(blk)
		}
	}
	if _, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM); err != nil {
		return nil, fmt.Errorf("%s is not a sealing key pair (a PEM certificate and its RSA key): %w", path, err)
	}
	return &kp, nil
}

// Create writes a new key pair file (0600); it never overwrites.
func Create(path string, kp *KeyPair) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("a key already exists in %s; groundwork never overwrites a key", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(bytes.Join([][]byte{kp.CertPEM, kp.KeyPEM}, nil))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// LoadOrCreate loads the key pair, generating and storing one if the store
// has none.
func LoadOrCreate(path string, now time.Time) (kp *KeyPair, created bool, err error) {
	kp, err = Load(path)
	var nf *keys.NotFoundError
	if !errors.As(err, &nf) {
		return kp, false, err
	}
	if kp, err = Generate(now); err != nil {
		return nil, false, err
	}
	if err := Create(path, kp); err != nil {
		return nil, false, err
	}
	return kp, true, nil
}
