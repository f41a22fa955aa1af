package drill

import (
	"context"
	"crypto/rsa"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// CustodyError is a file in Git that the key store's keys do not open.
type CustodyError struct {
	File string
	// Recipients are those the file is encrypted for; Have the key
	// store's.
	Recipients []string
	Have       string
	Err        error
}

func (e *CustodyError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s does not decrypt with the key in the key store (%s): %v. The key store does not hold the key Git's secrets were encrypted for: put the right key back from your backup", e.File, e.Have, e.Err)
	}
	return fmt.Sprintf("%s is encrypted for %s, not for the key store's recipient %s. The key store does not hold the key Git's secrets were encrypted for: put the right key back from your backup (or re-encrypt the file with groundwork keys rotate)", e.File, strings.Join(e.Recipients, ", "), e.Have)
}

// StoreCustody is the drill's own check of the keys layer until the
// key-custody check of up, rebuild and status takes its place: every
// SOPS file under the environment's folder is encrypted for the key
// store's age recipient and the first one decrypts with it; with Sealed
// Secrets, the first SealedSecret unseals with the key store's keys.
type StoreCustody struct {
	Environ []string
}

// Check implements KeyCustody.
func (s StoreCustody) Check(ctx context.Context, env *spec.Environment, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	root := path.Clean(env.GitOps.Repository.Path)
	for p := range files {
		if strings.HasPrefix(p, root+"/") {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	switch env.Secrets.Provider {
	case spec.SecretsExternalSecrets:
		return nil
	case spec.SecretsSealedSecrets:
		return s.sealed(env, files, names)
	}
	id, err := keys.LoadIdentity(ctx, env.Secrets.KeyStore, s.Environ)
	if err != nil {
		return err
	}
	have := id.Recipient().String()
	decrypted := false
	for _, p := range names {
		if !strings.HasSuffix(p, ".yaml") || !sopsenc.IsEncrypted(files[p]) {
			continue
		}
		rs, err := sopsenc.Recipients(files[p])
		if err != nil {
			return &CustodyError{File: p, Have: have, Err: err}
		}
		if !slices.Contains(rs, have) {
			return &CustodyError{File: p, Recipients: rs, Have: have}
		}
		if !decrypted {
			if _, err := sopsenc.DecryptYAML(files[p], id.String()); err != nil {
				return &CustodyError{File: p, Recipients: rs, Have: have, Err: err}
			}
			decrypted = true
		}
	}
	return nil
}

func (s StoreCustody) sealed(env *spec.Environment, files map[string][]byte, names []string) error {
	ks, err := sealing.LoadKeys(env.Secrets.KeyStore.Path)
	if err != nil {
		return err
	}
	priv := map[string]*rsa.PrivateKey{}
	var ids []string
	for _, kp := range ks {
		k, err := kp.PrivateKey()
		if err != nil {
			return err
		}
		priv[kp.ID()] = k
		ids = append(ids, kp.ID())
	}
	have := "sealing keys " + strings.Join(ids, ", ")
	for _, p := range names {
		if !strings.HasSuffix(p, ".yaml") || !strings.Contains(string(files[p]), "kind: SealedSecret") {
			continue
		}
		var ss ssv1alpha1.SealedSecret
		if err := yaml.Unmarshal(files[p], &ss); err != nil || ss.Kind != "SealedSecret" {
			continue
		}
		if _, err := ss.Unseal(scheme.Codecs, priv); err != nil {
			return &CustodyError{File: p, Have: have, Err: err}
		}
		return nil // one file unseals
	}
	return nil
}
