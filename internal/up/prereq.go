package up

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/awsauth"
	"github.com/groundwork-dev/groundwork/internal/cluster/kind"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/preflight"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// Prerequisites are what up needs before its first change, as checks that
// change nothing: the cluster's (a container runtime that answers for kind;
// Terraform and cloud credentials for a cloud cluster; a kubeconfig whose
// cluster answers for an existing one), the key store's (its variable set,
// its AWS secret reachable; a missing key is no problem where up creates
// it), and the GitOps repository read as up's first step will (its token
// included; CheckRepository's findings stay for the caller). GKE and AKS
// credentials are Terraform's providers' to find: their absence shows in
// the cluster step, before anything is created.
func (r *Run) Prerequisites() []preflight.Check {
	checks := r.clusterPrerequisites()
	if c, ok := r.keyStorePrerequisite(); ok {
		checks = append(checks, c)
	}
	return append(checks, preflight.Check{What: "GitOps repository", Run: func(ctx context.Context) error {
		_, err := r.CheckRepository(ctx)
		return err
	}}, preflight.Check{What: "key custody", Run: r.custodyPrerequisite})
}

// custodyPrerequisite checks, before the secrets step puts a key into the
// cluster, that the key store holds the keys what Git holds is encrypted
// for: a store that lost its key would otherwise get a new one, and the
// running cluster a decryption Secret it cannot open the repository with.
// Problems of the key store or the repository themselves are their own
// checks' to report.
func (r *Run) custodyPrerequisite(ctx context.Context) error {
	env := r.env()
	if env.Secrets.Provider == spec.SecretsExternalSecrets {
		return nil
	}
	k, err := custody.Load(ctx, env, r.opts.Environ)
	var nf *keys.NotFoundError
	missing := errors.As(err, &nf)
	if err != nil && !missing {
		return nil
	}
	git, err := r.Git()
	if err != nil {
		return nil
	}
	snap, err := git.Read(ctx, env.GitOps.Repository.Path)
	if err != nil {
		return nil
	}
	if missing {
		if enc := encryptedFiles(env, snap.Files); len(enc) > 0 {
			return fmt.Errorf("the key store has no key (%s), but the repository already holds %d encrypted file(s) of %s (%s): up would make a new key, which cannot decrypt them, and give it to the cluster. Put the key back from your backup of the key store, or point secrets.key_store at where it is", nf.Where, len(enc), env.Name, strings.Join(enc, ", "))
		}
		return nil // nothing encrypted yet: up makes the key
	}
	_, err = custody.Check(ctx, env, snap.Files, k)
	var me *custody.MismatchError
	if errors.As(err, &me) && !slices.ContainsFunc(me.Problems, func(p custody.Problem) bool { return path.Base(p.File) != ".sops.yaml" }) {
		// Only .sops.yaml names another key, and nothing is encrypted
		// for it: the seed step rewrites it for the store's key.
		return nil
	}
	return err
}

// encryptedFiles are the files under the environment's folder that only
// the environment's keys open: SOPS-encrypted YAML, SealedSecrets.
func encryptedFiles(env *spec.Environment, files map[string][]byte) []string {
	var out []string
	for p, b := range files {
		if !strings.HasPrefix(p, path.Clean(env.GitOps.Repository.Path)+"/") || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			continue
		}
		if sopsenc.IsEncrypted(b) || bytes.Contains(b, []byte("kind: SealedSecret")) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// RebuildPrerequisites are rebuild's: the cluster's, as up's, and its own
// Preflight (the keys in the key store, a seeded repository).
func (r *Run) RebuildPrerequisites() []preflight.Check {
	return append(r.clusterPrerequisites(), preflight.Check{What: "keys and repository", Run: r.Preflight})
}

func (r *Run) clusterPrerequisites() []preflight.Check {
	env := r.env()
	var out []preflight.Check
	aws := func(region, purpose string) preflight.Check {
		return preflight.Check{What: "AWS credentials", Run: func(ctx context.Context) error {
			_, err := awsauth.Config(ctx, region, purpose)
			return err
		}}
	}
	switch e := env.Cluster.Existing; {
	case env.Cluster.Remote():
		out = append(out, preflight.Check{What: "Terraform", Run: func(ctx context.Context) error {
			_, err := terraform.Find(ctx, r.tfOptions().Find)
			return err
		}})
		switch {
		case env.Cluster.EKS != nil:
			out = append(out, aws(env.Cluster.EKS.Region, "the EKS cluster of "+env.Name))
		case env.State != nil && env.State.Backend == "s3":
			out = append(out, aws(env.State.Config["region"], "Terraform's state in S3 bucket "+env.State.Config["bucket"]))
		}
	case e != nil && e.EKS != nil:
		out = append(out, aws(e.EKS.Region, "EKS cluster "+e.EKS.Name))
	case e != nil:
		out = append(out, preflight.Check{What: "cluster", Run: func(ctx context.Context) error {
			path, kctx := facts.Kubeconfig(env, r.opts.StateDir)
			c, err := kube.Connect(path, kctx)
			if err != nil {
				return err
			}
			_, err = c.ServerVersion(ctx)
			return err
		}})
	default:
		out = append(out, preflight.Check{What: "container runtime", Run: func(ctx context.Context) error {
			_, err := kind.Runtime(ctx)
			return err
		}})
	}
	return out
}

// keyStorePrerequisite checks that the key store can be read: a key that is
// missing is created by up in a file or AWS Secrets Manager store, but must
// be there in an env store (up never prints a key for someone to export).
func (r *Run) keyStorePrerequisite() (preflight.Check, bool) {
	s := r.env().Secrets
	ks := s.KeyStore
	missingOK := func(err error) error {
		var nf *keys.NotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	switch {
	case s.Provider == spec.SecretsExternalSecrets:
		return preflight.Check{}, false
	case s.Provider == spec.SecretsSealedSecrets:
		return preflight.Check{What: "key store", Run: func(context.Context) error {
			_, err := sealing.LoadKeys(ks.Path)
			return missingOK(err)
		}}, true
	case ks.Type == spec.KeyStoreEnv:
		return preflight.Check{What: "key store", Run: func(context.Context) error {
			_, err := keys.EnvStore{Variable: ks.Variable, Environ: r.opts.Environ}.Load()
			var nf *keys.NotFoundError
			if errors.As(err, &nf) {
				return fmt.Errorf("the environment variable %s (key_store \"env\") is not set or empty: export the environment's age key in it (AGE-SECRET-KEY-1…); in CI, from a masked secret", ks.Variable)
			}
			return err
		}}, true
	case ks.Type == spec.KeyStoreAWSSecretsManager:
		return preflight.Check{What: "key store", Run: func(ctx context.Context) error {
			st, err := keys.NewSecretsManagerStore(ctx, ks.SecretName, ks.Region)
			if err != nil {
				return err
			}
			_, err = st.Load(ctx)
			return missingOK(err)
		}}, true
	default:
		return preflight.Check{What: "key store", Run: func(context.Context) error {
			_, err := keys.FileStore{Path: ks.Path}.Load()
			return missingOK(err)
		}}, true
	}
}
