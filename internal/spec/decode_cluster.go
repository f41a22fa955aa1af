package spec

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

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
			d.aksPoolNames(c.Blocks, cl.AKS.NodePools)
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

// AKS names node pools with at most 12 lowercase letters and digits, and
// the Azure/aks module adds 4 random characters to the name of every pool
// but the system pool (the first by name), for create-before-destroy:
// modules/aks names them after the pool without its dashes, cut to 12 and
// 8. Two pools whose names are the same once cut would be one.
func (d *decoder) aksPoolNames(blocks hcl.Blocks, pools []NodePool) {
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.Name
	}
	sort.Strings(names)
	cut := map[string]string{}
	for i, n := range names {
		limit := 8
		if i == 0 {
			limit = 12
		}
		c := strings.ReplaceAll(n, "-", "")
		if len(c) > limit {
			c = c[:limit]
		}
		if other, dup := cut[c]; dup {
			var r *hcl.Range
			for _, b := range blocks.OfType("node_pool") {
				if b.Labels[0] == n {
					r = b.LabelRanges[0].Ptr()
				}
			}
			d.errorf(r, "AKS node pool names collide",
				"On AKS node pools %q and %q both get the name %q: Azure allows 12 letters and digits, and the Azure/aks module adds 4 random characters to every pool but the system pool (the first by name), so groundwork keeps the first 8 of those. Rename one so that their first 8 letters and digits (12 for %q) differ.", other, n, c, names[0])
		}
		cut[c] = n
	}
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
