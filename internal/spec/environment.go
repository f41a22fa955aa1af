package spec

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
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

// --- cluster ---

var (
	kindSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "kubernetes_version"}, {Name: "node_image"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "node"}},
	}
	kindNodeSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "role"}, {Name: "labels"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "port_mapping"}},
	}
	portMappingSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "container_port", Required: true}, {Name: "host_port", Required: true},
			{Name: "listen_address"}, {Name: "protocol"},
		},
	}
	eksSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "region", Required: true}, {Name: "kubernetes_version"}, {Name: "vpc_cidr"}, {Name: "tags"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "node_pool", LabelNames: []string{"name"}}},
	}
	gkeSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "project", Required: true}, {Name: "location", Required: true}, {Name: "kubernetes_version"}, {Name: "network"}, {Name: "labels"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "node_pool", LabelNames: []string{"name"}}},
	}
	aksSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "location", Required: true}, {Name: "resource_group"}, {Name: "kubernetes_version"}, {Name: "tags"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "node_pool", LabelNames: []string{"name"}}},
	}
	existingSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "kubeconfig"}, {Name: "context"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "eks"}},
	}
	eksAdoptionSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "name", Required: true}, {Name: "region", Required: true}},
	}
)

func (d *decoder) decodeCluster(block *hcl.Block, envName string, paths envPaths) Cluster {
	cl := Cluster{Provider: block.Labels[0], DeclRange: block.DefRange}
	switch cl.Provider {
	case ProviderKind:
		cl.Kind = d.decodeKind(block.Body)
	case ProviderEKS:
		c := d.content(block.Body, eksSchema)
		cl.EKS = &EKSCluster{KubernetesVersion: DefaultCloudK8sVersion, VPCCIDR: "10.0.0.0/16"}
		if c != nil {
			d.nonEmpty(c.Attributes, "region", &cl.EKS.Region)
			d.cloudVersion(c.Attributes, &cl.EKS.KubernetesVersion)
			if d.str(c.Attributes, "vpc_cidr", &cl.EKS.VPCCIDR) {
				if _, _, err := net.ParseCIDR(cl.EKS.VPCCIDR); err != nil {
					d.errorf(c.Attributes["vpc_cidr"].Expr.Range().Ptr(), "Invalid CIDR", "%q is not a CIDR block; write it like \"10.0.0.0/16\".", cl.EKS.VPCCIDR)
				}
			}
			d.strMap(c.Attributes, "tags", &cl.EKS.Tags)
			cl.EKS.NodePools = d.decodeNodePools(c.Blocks, "instance_type", "m6i.large")
		}
	case ProviderGKE:
		c := d.content(block.Body, gkeSchema)
		cl.GKE = &GKECluster{KubernetesVersion: DefaultCloudK8sVersion, Network: "default"}
		if c != nil {
			d.nonEmpty(c.Attributes, "project", &cl.GKE.Project)
			d.nonEmpty(c.Attributes, "location", &cl.GKE.Location)
			d.cloudVersion(c.Attributes, &cl.GKE.KubernetesVersion)
			d.nonEmpty(c.Attributes, "network", &cl.GKE.Network)
			d.strMap(c.Attributes, "labels", &cl.GKE.Labels)
			cl.GKE.NodePools = d.decodeNodePools(c.Blocks, "machine_type", "e2-standard-4")
		}
	case ProviderAKS:
		c := d.content(block.Body, aksSchema)
		cl.AKS = &AKSCluster{KubernetesVersion: DefaultCloudK8sVersion, ResourceGroup: envName + "-rg"}
		if c != nil {
			d.nonEmpty(c.Attributes, "location", &cl.AKS.Location)
			d.nonEmpty(c.Attributes, "resource_group", &cl.AKS.ResourceGroup)
			d.cloudVersion(c.Attributes, &cl.AKS.KubernetesVersion)
			d.strMap(c.Attributes, "tags", &cl.AKS.Tags)
			cl.AKS.NodePools = d.decodeNodePools(c.Blocks, "vm_size", "Standard_D4s_v5")
		}
	case ProviderExisting:
		c := d.content(block.Body, existingSchema)
		cl.Existing = &ExistingCluster{Kubeconfig: "~/.kube/config"}
		if first, _, _ := strings.Cut(paths.kubeconfig, string(filepath.ListSeparator)); first != "" {
			cl.Existing.Kubeconfig = first
		}
		if c != nil {
			d.nonEmpty(c.Attributes, "kubeconfig", &cl.Existing.Kubeconfig)
			d.nonEmpty(c.Attributes, "context", &cl.Existing.Context)
			cl.Existing.EKS = d.decodeEKSAdoption(c)
		}
		cl.Existing.Kubeconfig = expandPath(cl.Existing.Kubeconfig, paths.base, paths.home)
	default:
		d.errorf(block.LabelRanges[0].Ptr(), "Unknown cluster provider",
			"%q is not a cluster provider.%s Valid providers: %s.", cl.Provider, didYouMean(cl.Provider, Providers), quoteList(Providers))
	}
	return cl
}

// decodeEKSAdoption reads an existing cluster's eks { name, region } block:
// the cluster is found by name, and its kubeconfig written by groundwork, so
// kubeconfig and context cannot go with it.
func (d *decoder) decodeEKSAdoption(c *hcl.BodyContent) *EKSAdoption {
	var a *EKSAdoption
	for _, b := range c.Blocks {
		if a != nil {
			d.errorf(b.DefRange.Ptr(), "Duplicate eks block", "An existing cluster adopts one EKS cluster; remove this block.")
			continue
		}
		a = &EKSAdoption{}
		if ec := d.content(b.Body, eksAdoptionSchema); ec != nil {
			d.nonEmpty(ec.Attributes, "name", &a.Name)
			d.nonEmpty(ec.Attributes, "region", &a.Region)
		}
		for _, name := range []string{"kubeconfig", "context"} {
			if attr, ok := c.Attributes[name]; ok {
				d.errorf(attr.Range.Ptr(), "Conflicting cluster settings",
					"%s and an eks block both say how to reach the cluster: with eks { name, region } groundwork finds the cluster with DescribeCluster and writes its kubeconfig itself. Remove %s, or the eks block.", name, name)
			}
		}
	}
	return a
}

var kindVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+$`)

func (d *decoder) decodeKind(body hcl.Body) *KindCluster {
	k := &KindCluster{}
	c := d.content(body, kindSchema)
	if c == nil {
		return k
	}
	if d.str(c.Attributes, "kubernetes_version", &k.KubernetesVersion) {
		if !kindVersion.MatchString(k.KubernetesVersion) {
			d.errorf(c.Attributes["kubernetes_version"].Expr.Range().Ptr(), "Invalid Kubernetes version",
				"%q is not a full Kubernetes version; kind node images are tagged like \"v1.34.0\".", k.KubernetesVersion)
		} else if !strings.HasPrefix(k.KubernetesVersion, "v") {
			k.KubernetesVersion = "v" + k.KubernetesVersion
		}
	}
	if d.nonEmpty(c.Attributes, "node_image", &k.NodeImage) && c.Attributes["kubernetes_version"] != nil {
		d.errorf(c.Attributes["node_image"].NameRange.Ptr(), "Conflicting attributes",
			"Give either node_image or kubernetes_version, not both: kubernetes_version picks the image kindest/node:<version>.")
	}
	controlPlanes := 0
	hostPorts := map[string]hcl.Range{}
	for _, nb := range c.Blocks {
		nc := d.content(nb.Body, kindNodeSchema)
		node := KindNode{Role: "control-plane"}
		if nc == nil {
			continue
		}
		d.oneOf(nc.Attributes, "role", []string{"control-plane", "worker"}, &node.Role)
		d.strMap(nc.Attributes, "labels", &node.Labels)
		for _, pb := range nc.Blocks {
			pc := d.content(pb.Body, portMappingSchema)
			if pc == nil {
				continue
			}
			pm := PortMapping{Protocol: "TCP"}
			d.integer(pc.Attributes, "container_port", 1, 65535, &pm.ContainerPort)
			d.integer(pc.Attributes, "host_port", 0, 65535, &pm.HostPort)
			if d.str(pc.Attributes, "listen_address", &pm.ListenAddress) && net.ParseIP(pm.ListenAddress) == nil {
				d.errorf(pc.Attributes["listen_address"].Expr.Range().Ptr(), "Invalid listen address", "%q is not an IP address; write it like \"127.0.0.1\" or \"0.0.0.0\".", pm.ListenAddress)
			}
			d.oneOf(pc.Attributes, "protocol", []string{"TCP", "UDP", "SCTP"}, &pm.Protocol)
			if pm.HostPort != 0 {
				key := fmt.Sprintf("%s/%d/%s", pm.ListenAddress, pm.HostPort, pm.Protocol)
				if prev, dup := hostPorts[key]; dup {
					d.errorf(pb.DefRange.Ptr(), "Duplicate host port", "Host port %d/%s is already mapped at %s; each host port can be mapped once.", pm.HostPort, pm.Protocol, prev)
				}
				hostPorts[key] = pb.DefRange
			}
			node.PortMappings = append(node.PortMappings, pm)
		}
		if node.Role == "control-plane" {
			controlPlanes++
		}
		k.Nodes = append(k.Nodes, node)
	}
	if len(k.Nodes) == 0 {
		k.Nodes = []KindNode{{Role: "control-plane"}}
	} else if controlPlanes == 0 {
		d.errorf(c.Blocks[0].DefRange.Ptr(), "No control-plane node",
			"A kind cluster needs at least one node with role = \"control-plane\" (the default role); add one.")
	}
	return k
}

var cloudVersion = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)

func (d *decoder) cloudVersion(a attrs, dst *string) {
	var v string
	if d.str(a, "kubernetes_version", &v) {
		if !cloudVersion.MatchString(v) {
			d.errorf(a["kubernetes_version"].Expr.Range().Ptr(), "Invalid Kubernetes version",
				"%q is not a Kubernetes version; managed clusters take a minor version like \"1.34\".", v)
			return
		}
		*dst = v
	}
}

func (d *decoder) decodeNodePools(blocks hcl.Blocks, sizeAttr, defaultSize string) []NodePool {
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: sizeAttr}, {Name: "min_size"}, {Name: "max_size"}, {Name: "desired_size"}, {Name: "labels"},
	}}
	var pools []NodePool
	seen := map[string]hcl.Range{}
	for _, b := range blocks.OfType("node_pool") {
		p := NodePool{Name: b.Labels[0], InstanceType: defaultSize, MinSize: 1, MaxSize: 3, DesiredSize: 2}
		if prev, dup := seen[p.Name]; dup {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate node pool", "Node pool %q is already declared at %s.", p.Name, prev)
		}
		seen[p.Name] = b.DefRange
		if !dnsLabel.MatchString(p.Name) {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid node pool name", "%q must be lowercase letters, digits and dashes.", p.Name)
		}
		c := d.content(b.Body, schema)
		if c == nil {
			continue
		}
		d.nonEmpty(c.Attributes, sizeAttr, &p.InstanceType)
		d.integer(c.Attributes, "min_size", 0, 1000, &p.MinSize)
		d.integer(c.Attributes, "max_size", 1, 1000, &p.MaxSize)
		d.integer(c.Attributes, "desired_size", 0, 1000, &p.DesiredSize)
		d.strMap(c.Attributes, "labels", &p.Labels)
		if p.MinSize > p.DesiredSize || p.DesiredSize > p.MaxSize {
			d.errorf(b.DefRange.Ptr(), "Invalid node pool sizes",
				"Node pool %q needs min_size <= desired_size <= max_size, but has %d, %d, %d.", p.Name, p.MinSize, p.DesiredSize, p.MaxSize)
		}
		pools = append(pools, p)
	}
	if len(pools) == 0 {
		pools = []NodePool{{Name: "default", InstanceType: defaultSize, MinSize: 1, MaxSize: 3, DesiredSize: 2}}
	}
	return pools
}

// --- state ---

// backendRequired lists the settings each well-known backend cannot do
// without; other backends are passed to Terraform unchecked.
var backendRequired = map[string][]string{
	"s3":         {"bucket", "key", "region"},
	"gcs":        {"bucket"},
	"azurerm":    {"storage_account_name", "container_name", "key"},
	"kubernetes": {"secret_suffix"},
	"local":      nil,
}

func (d *decoder) decodeState(block *hcl.Block, cl Cluster) *State {
	st := &State{Backend: block.Labels[0], Config: map[string]string{}, DeclRange: block.DefRange}
	if cl.Provider != "" && !cl.Remote() {
		d.errorf(block.DefRange.Ptr(), "State block on a local cluster",
			"A %s cluster is not provisioned through Terraform, so it has no Terraform state; remove the state block, or use an eks, gke or aks cluster.", cl.Provider)
	}
	as, diags := block.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	for _, name := range sortedKeys(as) {
		if name == "create" {
			d.boolean(as, "create", &st.Create)
			continue
		}
		var v string
		if d.str(as, name, &v) {
			st.Config[name] = v
		}
	}
	if st.Create && st.Backend != "s3" {
		d.errorf(as["create"].NameRange.Ptr(), "Unsupported create option",
			"create = true bootstraps an s3 bucket; groundwork cannot create storage for the %q backend. Create it yourself and remove create.", st.Backend)
	}
	if req, known := backendRequired[st.Backend]; known {
		for _, r := range req {
			if _, ok := st.Config[r]; !ok {
				d.errorf(block.Body.MissingItemRange().Ptr(), "Missing backend setting",
					"The %s backend needs %q; add %s = \"...\" to the state block.", st.Backend, r, r)
			}
		}
	} else if !hclIdent.MatchString(st.Backend) {
		d.errorf(block.LabelRanges[0].Ptr(), "Invalid backend name", "%q is not a Terraform backend name.%s", st.Backend, didYouMean(st.Backend, sortedKeys(backendRequired)))
	}
	return st
}

var hclIdent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// --- gitops ---

var (
	gitopsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "engine"}, {Name: "version"}, {Name: "namespace"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "chart"}, {Type: "repository"}, {Type: "commit"}, {Type: "sync"},
		},
	}
	chartSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "repository"}, {Name: "name"}}}
	repoSchema  = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "branch"}, {Name: "path"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "auth"}},
	}
	authSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "ssh_key_file"}, {Name: "known_hosts_file"}, {Name: "token_env"}, {Name: "username"},
	}}
	commitSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "author_name"}, {Name: "author_email"}, {Name: "message"}}}
	syncSchema   = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "interval"}, {Name: "prune"}, {Name: "timeout"}, {Name: "manual"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "window", LabelNames: []string{"kind"}}},
	}
	windowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "schedule", Required: true}, {Name: "duration", Required: true}, {Name: "time_zone"}, {Name: "manual_sync"},
	}}
)

func (d *decoder) decodeGitOps(block *hcl.Block, envName string, paths envPaths) GitOps {
	g := GitOps{
		Engine:     EngineFlux,
		Repository: Repository{Branch: DefaultBranch, Path: "clusters/" + envName},
		Commit:     CommitSettings{AuthorName: DefaultCommitAuthor, AuthorEmail: DefaultCommitEmail},
		Sync:       Sync{Interval: DefaultSyncInterval, Prune: true, Timeout: DefaultSyncTimeout},
	}
	c := d.content(block.Body, gitopsSchema)
	if c == nil {
		return g
	}
	d.oneOf(c.Attributes, "engine", []string{EngineFlux, EngineArgoCD}, &g.Engine)
	if g.Engine == EngineArgoCD {
		g.Version, g.Chart, g.Namespace = DefaultArgoCDChartVersion, Chart{Repository: DefaultArgoCDChartRepo, Name: DefaultArgoCDChartName}, "argocd"
	} else {
		g.Version, g.Chart, g.Namespace = DefaultFluxChartVersion, Chart{Repository: DefaultFluxChartRepo, Name: DefaultFluxChartName}, "flux-system"
	}
	d.pinnedVersion(c.Attributes, "version", &g.Version)
	if d.str(c.Attributes, "namespace", &g.Namespace) && !dnsLabel.MatchString(g.Namespace) {
		d.errorf(c.Attributes["namespace"].Expr.Range().Ptr(), "Invalid namespace", "%q is not a valid Kubernetes namespace name.", g.Namespace)
	}
	if cb := d.uniqueBlock(c.Blocks, "chart"); cb != nil {
		if cc := d.content(cb.Body, chartSchema); cc != nil {
			d.chartRepo(cc.Attributes, "repository", &g.Chart.Repository)
			d.nonEmpty(cc.Attributes, "name", &g.Chart.Name)
		}
	}
	if rb := d.uniqueBlock(c.Blocks, "repository"); rb != nil {
		d.decodeRepository(rb, &g.Repository, paths)
	} else {
		d.errorf(block.Body.MissingItemRange().Ptr(), "Missing repository block",
			"The gitops block needs the repository the cluster follows: repository { url = \"https://github.com/acme/fleet.git\" }.")
	}
	if cb := d.uniqueBlock(c.Blocks, "commit"); cb != nil {
		if cc := d.content(cb.Body, commitSchema); cc != nil {
			d.nonEmpty(cc.Attributes, "author_name", &g.Commit.AuthorName)
			if d.nonEmpty(cc.Attributes, "author_email", &g.Commit.AuthorEmail) && !strings.Contains(g.Commit.AuthorEmail, "@") {
				d.errorf(cc.Attributes["author_email"].Expr.Range().Ptr(), "Invalid email", "%q is not an email address.", g.Commit.AuthorEmail)
			}
			d.nonEmpty(cc.Attributes, "message", &g.Commit.Message)
		}
	}
	if g.Commit.Message == "" {
		g.Commit.Message = "groundwork: update environment " + envName
	}
	if sb := d.uniqueBlock(c.Blocks, "sync"); sb != nil {
		if sc := d.content(sb.Body, syncSchema); sc != nil {
			d.duration(sc.Attributes, "interval", &g.Sync.Interval)
			d.boolean(sc.Attributes, "prune", &g.Sync.Prune)
			d.duration(sc.Attributes, "timeout", &g.Sync.Timeout)
			d.decodeSyncPolicy(sc, &g)
		}
	}
	return g
}

var scpLike = regexp.MustCompile(`^([a-zA-Z0-9._-]+@)?[a-zA-Z0-9.-]+:[^/]`)

func (d *decoder) decodeRepository(block *hcl.Block, r *Repository, paths envPaths) {
	c := d.content(block.Body, repoSchema)
	if c == nil {
		return
	}
	var transport string
	if d.str(c.Attributes, "url", &r.URL) {
		var ok bool
		if transport, ok = gitTransport(r.URL); !ok {
			d.errorf(c.Attributes["url"].Expr.Range().Ptr(), "Invalid repository URL",
				"%q is not a Git URL groundwork can use. Write https://host/org/repo.git, ssh://git@host/org/repo.git (or git@host:org/repo.git), or file:///path/to/repo.git.", r.URL)
		}
	}
	if d.str(c.Attributes, "branch", &r.Branch) && !validBranch(r.Branch) {
		d.errorf(c.Attributes["branch"].Expr.Range().Ptr(), "Invalid branch name", "%q is not a valid Git branch name (no spaces, \"..\", \"~^:?*[\\\", leading \"-\" or trailing \"/\").", r.Branch)
	}
	if d.str(c.Attributes, "path", &r.Path) {
		clean := path.Clean(strings.TrimPrefix(r.Path, "./"))
		if r.Path == "" || strings.HasPrefix(r.Path, "/") || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
			d.errorf(c.Attributes["path"].Expr.Range().Ptr(), "Invalid repository path",
				"%q must be a folder inside the repository, relative to its root, like \"clusters/dev\".", r.Path)
		} else {
			r.Path = clean
		}
	}
	ab := d.uniqueBlock(c.Blocks, "auth")
	if ab == nil {
		if transport == "ssh" {
			d.errorf(c.Attributes["url"].Expr.Range().Ptr(), "Missing SSH key",
				"%q is an SSH URL, so groundwork and the reconciler need a key: add auth { ssh_key_file = \"~/.ssh/id_ed25519\" }.", r.URL)
		}
		return
	}
	ac := d.content(ab.Body, authSchema)
	if ac == nil {
		return
	}
	hasKey := d.nonEmpty(ac.Attributes, "ssh_key_file", &r.Auth.SSHKeyFile)
	hasToken := d.nonEmpty(ac.Attributes, "token_env", &r.Auth.TokenEnv)
	d.nonEmpty(ac.Attributes, "known_hosts_file", &r.Auth.KnownHostsFile)
	d.nonEmpty(ac.Attributes, "username", &r.Auth.Username)
	switch {
	case hasKey && hasToken:
		d.errorf(ab.DefRange.Ptr(), "Conflicting repository auth", "Give either ssh_key_file (for an SSH URL) or token_env (for an HTTPS URL), not both.")
	case hasKey && transport != "" && transport != "ssh":
		d.errorf(ac.Attributes["ssh_key_file"].NameRange.Ptr(), "SSH key for a non-SSH URL",
			"ssh_key_file needs an SSH URL, but %q is %s; use token_env for HTTPS, or an ssh:// URL.", r.URL, transport)
	case hasToken && transport == "ssh":
		d.errorf(ac.Attributes["token_env"].NameRange.Ptr(), "Token for an SSH URL",
			"token_env authenticates over HTTPS, but %q is an SSH URL; use ssh_key_file, or an https:// URL.", r.URL)
	case transport == "ssh" && !hasKey:
		d.errorf(ab.DefRange.Ptr(), "Missing SSH key", "%q is an SSH URL: add ssh_key_file = \"~/.ssh/id_ed25519\" to auth.", r.URL)
	}
	if hasToken && r.Auth.Username == "" {
		r.Auth.Username = "git" // any user name works with GitHub's and most forges' tokens
	}
	if hasToken && !envVarName.MatchString(r.Auth.TokenEnv) {
		d.errorf(ac.Attributes["token_env"].Expr.Range().Ptr(), "Invalid environment variable name",
			"token_env names the environment variable that holds the token, like \"GITHUB_TOKEN\"; %q is not such a name. Never put the token itself in the file.", r.Auth.TokenEnv)
	}
	if r.Auth.SSHKeyFile != "" {
		r.Auth.SSHKeyFile = expandPath(r.Auth.SSHKeyFile, paths.base, paths.home)
	}
	if r.Auth.KnownHostsFile != "" {
		r.Auth.KnownHostsFile = expandPath(r.Auth.KnownHostsFile, paths.base, paths.home)
	}
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// gitTransport classifies a Git URL as https, http, ssh or file.
func gitTransport(raw string) (string, bool) {
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		return "ssh", true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "https", "http", "ssh":
		return u.Scheme, u.Host != "" && strings.Trim(u.Path, "/") != ""
	case "file":
		return "file", u.Path != "" && u.Path != "/"
	}
	return "", false
}

func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	return !strings.ContainsAny(b, " ~^:?*[\\\t\n")
}

func (d *decoder) chartRepo(a attrs, name string, dst *string) bool {
	var s string
	if !d.nonEmpty(a, name, &s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid chart repository",
			"%q is not a chart source: give a Helm repository URL (https://charts.example.com) or an OCI registry path (oci://registry.example.com/charts).", s)
		return false
	}
	*dst = strings.TrimSuffix(s, "/")
	return true
}

// pinnedVersion reads an exact chart version; ranges are refused so that an
// environment means the same thing tomorrow.
func (d *decoder) pinnedVersion(a attrs, name string, dst *string) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v")); err != nil {
		d.errorf(a[name].Expr.Range().Ptr(), "Version not pinned",
			"%q is not an exact chart version. groundwork pins versions so that a rebuild installs the same thing: write a full version like \"1.2.3\", not a range or a partial version.", s)
		return false
	}
	*dst = s
	return true
}

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

// --- addons ---

var addonSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "chart"}, {Name: "repository", Required: true}, {Name: "version", Required: true},
		{Name: "namespace"}, {Name: "create_namespace"}, {Name: "values"}, {Name: "depends_on"},
	},
}

func (d *decoder) decodeAddons(blocks hcl.Blocks) []Addon {
	var addons []Addon
	index := map[string]int{}
	dependsRanges := map[string]hcl.Range{}
	for _, b := range blocks {
		a := Addon{Name: b.Labels[0], DeclRange: b.DefRange, CreateNamespace: true}
		if i, dup := index[a.Name]; dup {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate addon", "Addon %q is already declared at %s; addon names must be unique.", a.Name, addons[i].DeclRange)
			continue
		}
		if !dnsLabel.MatchString(a.Name) || len(a.Name) > 53 {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid addon name",
				"%q becomes a Helm release name: use at most 53 lowercase letters, digits and dashes.", a.Name)
		}
		a.Chart.Name, a.Namespace = a.Name, a.Name
		c := d.content(b.Body, addonSchema)
		if c != nil {
			d.nonEmpty(c.Attributes, "chart", &a.Chart.Name)
			d.chartRepo(c.Attributes, "repository", &a.Chart.Repository)
			d.pinnedVersion(c.Attributes, "version", &a.Version)
			if d.str(c.Attributes, "namespace", &a.Namespace) && !dnsLabel.MatchString(a.Namespace) {
				d.errorf(c.Attributes["namespace"].Expr.Range().Ptr(), "Invalid namespace", "%q is not a valid Kubernetes namespace name.", a.Namespace)
			}
			d.boolean(c.Attributes, "create_namespace", &a.CreateNamespace)
			d.object(c.Attributes, "values", &a.Values)
			if d.strList(c.Attributes, "depends_on", &a.DependsOn) {
				dependsRanges[a.Name] = c.Attributes["depends_on"].Expr.Range()
			}
		}
		index[a.Name] = len(addons)
		addons = append(addons, a)
	}
	names := sortedKeys(index)
	for _, a := range addons {
		for _, dep := range a.DependsOn {
			rng := dependsRanges[a.Name]
			switch _, ok := index[dep]; {
			case dep == a.Name:
				d.errorf(&rng, "Addon depends on itself", "Addon %q lists itself in depends_on; remove it.", a.Name)
			case !ok:
				d.errorf(&rng, "Unknown addon in depends_on", "Addon %q depends on %q, which is not declared.%s", a.Name, dep, didYouMean(dep, names))
			}
		}
	}
	if cycle := dependencyCycle(addons, index); cycle != nil {
		rng := dependsRanges[cycle[0]]
		d.errorf(&rng, "Addon dependency cycle", "The addons depend on each other in a cycle: %s. Remove one of the depends_on entries.", strings.Join(cycle, " -> "))
	}
	return addons
}

// dependencyCycle returns one cycle of addon dependencies, or nil.
func dependencyCycle(addons []Addon, index map[string]int) []string {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(addons))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = visiting
		stack = append(stack, addons[i].Name)
		for _, dep := range addons[i].DependsOn {
			j, ok := index[dep]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case visiting:
				for k, n := range stack {
					if n == dep {
						return append(append([]string{}, stack[k:]...), dep)
					}
				}
			case unvisited:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range addons {
		if state[i] == unvisited {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}
