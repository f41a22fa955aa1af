package spec

import (
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults that the smallest environment file relies on.
const (
	DefaultFluxChartRepo      = "https://fluxcd-community.github.io/helm-charts"
	DefaultFluxChartName      = "flux2"
	DefaultFluxChartVersion   = "2.17.0" // Flux v2.7
	DefaultArgoCDChartRepo    = "https://argoproj.github.io/argo-helm"
	DefaultArgoCDChartName    = "argo-cd"
	DefaultArgoCDChartVersion = "9.1.0" // Argo CD v3.2

	DefaultSealedSecretsChartRepo      = "https://bitnami-labs.github.io/sealed-secrets"
	DefaultSealedSecretsChartVersion   = "2.19.3" // Sealed Secrets v0.39
	DefaultExternalSecretsChartRepo    = "https://charts.external-secrets.io"
	DefaultExternalSecretsChartVersion = "1.3.1" // External Secrets Operator v1.3
	DefaultBranch                      = "main"
	DefaultCloudK8sVersion             = "1.34"
	DefaultSyncInterval                = time.Minute
	DefaultSyncTimeout                 = 5 * time.Minute
	DefaultCommitAuthor                = "groundwork"
	DefaultCommitEmail                 = "groundwork@localhost"
	DefaultEnvKeyVariable              = "GROUNDWORK_AGE_KEY"
	maxEnvNameLength                   = 40
)

var envSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "labels"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "cluster", LabelNames: []string{"provider"}},
		{Type: "state", LabelNames: []string{"backend"}},
		{Type: "gitops"},
		{Type: "secrets"},
		{Type: "addon", LabelNames: []string{"name"}},
		{Type: "ephemeral"},
		{Type: "notifications"},
	},
}

// envPaths are the directories relative paths and defaults resolve against.
type envPaths struct {
	base, home, config string
	// kubeconfig is $KUBECONFIG, the default for an existing cluster.
	kubeconfig string
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (d *decoder) decodeEnvironment(block *hcl.Block, paths envPaths) *Environment {
	env := &Environment{Name: block.Labels[0], DeclRange: block.DefRange}
	if !dnsLabel.MatchString(env.Name) || len(env.Name) > maxEnvNameLength {
		d.errorf(block.LabelRanges[0].Ptr(), "Invalid environment name",
			"%q cannot name clusters and Kubernetes objects: use at most %d lowercase letters, digits and dashes, starting and ending with a letter or digit (like \"dev\" or \"prod-eu\").",
			env.Name, maxEnvNameLength)
	}
	c := d.content(block.Body, envSchema)
	if c == nil {
		return env
	}
	d.strMap(c.Attributes, "labels", &env.Labels)

	if cb := d.uniqueBlock(c.Blocks, "cluster"); cb != nil {
		env.Cluster = d.decodeCluster(cb, env.Name, paths)
	} else {
		d.errorf(block.Body.MissingItemRange().Ptr(), "Missing cluster block",
			"Environment %q needs a cluster block saying where the cluster comes from: cluster \"kind\" {} for a local one, or one of %s.",
			env.Name, quoteList(Providers))
	}
	if sb := d.uniqueBlock(c.Blocks, "state"); sb != nil {
		env.State = d.decodeState(sb, env.Cluster)
	}
	if gb := d.uniqueBlock(c.Blocks, "gitops"); gb != nil {
		env.GitOps = d.decodeGitOps(gb, env.Name, paths)
	} else {
		d.errorf(block.Body.MissingItemRange().Ptr(), "Missing gitops block",
			"Environment %q needs a gitops block with the repository the cluster follows:\n\n  gitops {\n    repository { url = \"https://github.com/acme/fleet.git\" }\n  }", env.Name)
	}
	env.Secrets = d.decodeSecrets(d.uniqueBlock(c.Blocks, "secrets"), env, paths)
	env.Addons = d.decodeAddons(c.Blocks.OfType("addon"))
	if nb := d.uniqueBlock(c.Blocks, "notifications"); nb != nil {
		env.Notifications = d.decodeNotifications(nb, env)
	}
	if eb := d.uniqueBlock(c.Blocks, "ephemeral"); eb != nil {
		ec := d.content(eb.Body, &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "ttl", Required: true}}})
		env.Ephemeral = &Ephemeral{}
		if ec != nil {
			d.duration(ec.Attributes, "ttl", &env.Ephemeral.TTL)
		}
	}
	return env
}
