package spec

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// --- secrets ---

var (
	secretsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "provider"}, {Name: "version"}, {Name: "values"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "chart"},
			{Type: "key_store", LabelNames: []string{"type"}},
			{Type: "external_store", LabelNames: []string{"type"}},
		},
	}
	keyStoreTypes      = []string{KeyStoreFile, KeyStoreAWSSecretsManager, KeyStoreEnv}
	externalStoreTypes = []string{KeyStoreAWSSecretsManager}
)

func (d *decoder) decodeSecrets(block *hcl.Block, env *Environment, paths envPaths) Secrets {
	s := Secrets{Provider: SecretsSOPS}
	if env.GitOps.Engine == EngineArgoCD {
		s.Provider = SecretsSealedSecrets
	}
	var c *hcl.BodyContent
	if block != nil {
		c = d.content(block.Body, secretsSchema)
	}
	if c != nil && d.oneOf(c.Attributes, "provider", []string{SecretsSOPS, SecretsSealedSecrets, SecretsExternalSecrets}, &s.Provider) &&
		s.Provider == SecretsSOPS && env.GitOps.Engine == EngineArgoCD {
		d.errorf(c.Attributes["provider"].Expr.Range().Ptr(), "SOPS with Argo CD",
			"Argo CD cannot decrypt SOPS files without a plugin; with engine = \"argocd\" use provider = \"sealed-secrets\" (the default) or \"external-secrets\".")
	}
	keyFile := env.Name + ".agekey"
	switch s.Provider {
	case SecretsSealedSecrets:
		keyFile = env.Name + ".sealed-secrets.pem"
		s.Chart, s.Version, s.Namespace = Chart{Repository: DefaultSealedSecretsChartRepo, Name: "sealed-secrets"}, DefaultSealedSecretsChartVersion, "kube-system"
	case SecretsExternalSecrets:
		s.Chart, s.Version, s.Namespace = Chart{Repository: DefaultExternalSecretsChartRepo, Name: "external-secrets"}, DefaultExternalSecretsChartVersion, "external-secrets"
	}
	s.KeyStore = KeyStore{Type: KeyStoreFile, Path: filepath.Join(paths.config, "groundwork", "keys", keyFile)}
	if c == nil {
		return s
	}
	if s.Provider == SecretsSOPS {
		for _, name := range []string{"version", "values"} {
			if a := c.Attributes[name]; a != nil {
				d.errorf(a.NameRange.Ptr(), "No chart with SOPS", "SOPS needs no controller of its own (Flux decrypts); %s applies to sealed-secrets and external-secrets only.", name)
			}
		}
		if cb := d.uniqueBlock(c.Blocks, "chart"); cb != nil {
			d.errorf(cb.DefRange.Ptr(), "No chart with SOPS", "SOPS needs no controller of its own (Flux decrypts); a chart block applies to sealed-secrets and external-secrets only.")
		}
	} else {
		d.pinnedVersion(c.Attributes, "version", &s.Version)
		if d.object(c.Attributes, "values", &s.Values) && s.Provider == SecretsSealedSecrets {
			d.checkKeyRenewPeriod(c.Attributes["values"], s.Values)
		}
		if cb := d.uniqueBlock(c.Blocks, "chart"); cb != nil {
			if cc := d.content(cb.Body, chartSchema); cc != nil {
				d.chartRepo(cc.Attributes, "repository", &s.Chart.Repository)
				d.nonEmpty(cc.Attributes, "name", &s.Chart.Name)
			}
		}
	}
	if kb := d.uniqueBlock(c.Blocks, "key_store"); kb != nil {
		if s.Provider == SecretsExternalSecrets {
			d.errorf(kb.DefRange.Ptr(), "Key store with External Secrets",
				"External Secrets keeps no key of groundwork's: the secrets stay in the external store. Remove the key_store block, or use provider = \"sops\" or \"sealed-secrets\".")
		}
		d.decodeKeyStore(kb, &s.KeyStore, env.Name, paths)
	}
	if xb := d.uniqueBlock(c.Blocks, "external_store"); xb != nil {
		s.ExternalStore = &ExternalStore{Type: xb.Labels[0]}
		if s.Provider != SecretsExternalSecrets {
			d.errorf(xb.DefRange.Ptr(), "External store without External Secrets",
				"An external_store is read by External Secrets Operator; set provider = \"external-secrets\", or remove the block.")
		}
		if !contains(externalStoreTypes, s.ExternalStore.Type) {
			d.errorf(xb.LabelRanges[0].Ptr(), "Unknown external store", "%q is not a supported external store.%s Supported: %s.",
				s.ExternalStore.Type, didYouMean(s.ExternalStore.Type, externalStoreTypes), quoteList(externalStoreTypes))
		}
		xc := d.content(xb.Body, &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "region", Required: true}, {Name: "role_arn"}}})
		if xc != nil {
			d.nonEmpty(xc.Attributes, "region", &s.ExternalStore.Region)
			if d.nonEmpty(xc.Attributes, "role_arn", &s.ExternalStore.RoleARN) && !strings.HasPrefix(s.ExternalStore.RoleARN, "arn:") {
				d.errorf(xc.Attributes["role_arn"].Expr.Range().Ptr(), "Invalid role ARN", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/name).", s.ExternalStore.RoleARN)
			}
		}
	} else if s.Provider == SecretsExternalSecrets {
		d.errorf(block.Body.MissingItemRange().Ptr(), "Missing external store",
			"provider = \"external-secrets\" needs the store it reads from: external_store \"aws-secrets-manager\" { region = \"eu-west-1\" }.")
	}
	return s
}

func (d *decoder) decodeKeyStore(block *hcl.Block, ks *KeyStore, envName string, paths envPaths) {
	ks.Type = block.Labels[0]
	schema := &hcl.BodySchema{}
	switch ks.Type {
	case KeyStoreFile:
		schema.Attributes = []hcl.AttributeSchema{{Name: "path"}}
	case KeyStoreAWSSecretsManager:
		schema.Attributes = []hcl.AttributeSchema{{Name: "region", Required: true}, {Name: "secret_name"}}
		ks.Path, ks.SecretName = "", "groundwork/"+envName+"/keys"
	case KeyStoreEnv:
		schema.Attributes = []hcl.AttributeSchema{{Name: "variable"}}
		ks.Path, ks.Variable = "", DefaultEnvKeyVariable
	default:
		d.errorf(block.LabelRanges[0].Ptr(), "Unknown key store", "%q is not a key store.%s Key stores: %s.",
			ks.Type, didYouMean(ks.Type, keyStoreTypes), quoteList(keyStoreTypes))
		return
	}
	c := d.content(block.Body, schema)
	if c == nil {
		return
	}
	if d.nonEmpty(c.Attributes, "path", &ks.Path) {
		ks.Path = expandPath(ks.Path, paths.base, paths.home)
	}
	d.nonEmpty(c.Attributes, "region", &ks.Region)
	d.nonEmpty(c.Attributes, "secret_name", &ks.SecretName)
	if d.nonEmpty(c.Attributes, "variable", &ks.Variable) && !envVarName.MatchString(ks.Variable) {
		d.errorf(c.Attributes["variable"].Expr.Range().Ptr(), "Invalid environment variable name", "%q is not an environment variable name.", ks.Variable)
	}
}
