package spec

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Cluster providers.
const (
	ProviderKind     = "kind"
	ProviderEKS      = "eks"
	ProviderGKE      = "gke"
	ProviderAKS      = "aks"
	ProviderExisting = "existing"
)

// Providers lists the cluster providers in the order the docs present them.
var Providers = []string{ProviderKind, ProviderEKS, ProviderGKE, ProviderAKS, ProviderExisting}

// GitOps engines.
const (
	EngineFlux   = "flux"
	EngineArgoCD = "argocd"
)

// Secrets providers.
const (
	SecretsSOPS            = "sops"
	SecretsSealedSecrets   = "sealed-secrets"
	SecretsExternalSecrets = "external-secrets"
)

// Key stores.
const (
	KeyStoreFile              = "file"
	KeyStoreAWSSecretsManager = "aws-secrets-manager"
	KeyStoreEnv               = "env"
)

// Environment is one decoded, validated environment with every default
// filled in.
type Environment struct {
	Name   string
	Labels map[string]string
	// File is the path of the environment file as given to Load.
	File string

	Cluster   Cluster
	State     *State // nil unless the provider is remote and a state block is given
	GitOps    GitOps
	Secrets   Secrets
	Addons    []Addon // in file order
	Ephemeral *Ephemeral
	// Notifications says where the reconciler reports failed and
	// recovered reconciles; nil without a notifications block.
	Notifications *Notifications `json:",omitempty"`

	DeclRange hcl.Range `json:"-"`
}

// Cluster says where the environment's cluster comes from. Exactly one of the
// provider-specific fields is set, matching Provider.
type Cluster struct {
	Provider  string
	Kind      *KindCluster
	EKS       *EKSCluster
	GKE       *GKECluster
	AKS       *AKSCluster
	Existing  *ExistingCluster
	DeclRange hcl.Range `json:"-"`
}

// Remote reports whether the cluster is provisioned through Terraform.
func (c Cluster) Remote() bool {
	switch c.Provider {
	case ProviderEKS, ProviderGKE, ProviderAKS:
		return true
	}
	return false
}

// KindCluster is a local cluster created through kind's Go API.
type KindCluster struct {
	// NodeImage is the kind node image; empty means kind's own default.
	NodeImage string
	// KubernetesVersion is the version of the node image, like "v1.34.0";
	// it selects kindest/node:<version> when NodeImage is empty.
	KubernetesVersion string
	Nodes             []KindNode
}

// KindNode is one node of a kind cluster.
type KindNode struct {
	Role         string // control-plane | worker
	PortMappings []PortMapping
	Labels       map[string]string
}

// PortMapping maps a host port to a node's container port.
type PortMapping struct {
	ContainerPort int
	HostPort      int
	ListenAddress string
	Protocol      string // TCP | UDP | SCTP
}

// NodePool is a managed node group of a cloud cluster.
type NodePool struct {
	Name         string
	InstanceType string // machine_type on GKE, vm_size on AKS
	MinSize      int
	MaxSize      int
	DesiredSize  int
	Labels       map[string]string
}

// EKSCluster is an Amazon EKS cluster provisioned with modules/eks.
type EKSCluster struct {
	Region            string
	KubernetesVersion string
	VPCCIDR           string
	NodePools         []NodePool
	Tags              map[string]string
}

// GKECluster is a Google GKE cluster provisioned with modules/gke.
type GKECluster struct {
	Project           string
	Location          string
	KubernetesVersion string
	Network           string
	NodePools         []NodePool
	Labels            map[string]string
}

// AKSCluster is an Azure AKS cluster provisioned with modules/aks.
type AKSCluster struct {
	Location          string
	ResourceGroup     string
	KubernetesVersion string
	NodePools         []NodePool
	Tags              map[string]string
}

// ExistingCluster is adopted from a kubeconfig; groundwork does not own it.
type ExistingCluster struct {
	Kubeconfig string // absolute, ~ expanded
	Context    string // empty: the kubeconfig's current context
	// EKS adopts an EKS cluster by name instead: groundwork writes its
	// kubeconfig from DescribeCluster; Terraform never owns it.
	EKS *EKSAdoption `json:",omitempty"`
}

// EKSAdoption names an existing EKS cluster.
type EKSAdoption struct {
	Name   string
	Region string
}

// State is the Terraform backend of a remote cluster.
type State struct {
	Backend string
	// Create asks groundwork to create the backend's storage (s3 bucket)
	// when it is missing.
	Create bool
	// Config holds the backend's own settings, passed to Terraform as is.
	Config    map[string]string
	DeclRange hcl.Range `json:"-"`
}

// GitOps describes the in-cluster reconciler and its repository.
type GitOps struct {
	Engine     string
	Version    string // chart version of the reconciler
	Chart      Chart
	Namespace  string
	Repository Repository
	Commit     CommitSettings
	Sync       Sync
}

// EngineWithChart names the engine with the chart that installs it, like
// "flux (chart flux2 2.17.0)": the version is the chart's, not the
// engine's own, so it is never shown as "flux 2.17.0".
func EngineWithChart(g GitOps) string {
	return fmt.Sprintf("%s (chart %s %s)", g.Engine, g.Chart.Name, g.Version)
}

// Chart is where a Helm chart comes from.
type Chart struct {
	// Repository is an http(s) Helm repository URL or an oci:// reference
	// to the registry path holding the chart.
	Repository string
	Name       string
}

// OCI reports whether the chart comes from an OCI registry.
func (c Chart) OCI() bool { return len(c.Repository) > 6 && c.Repository[:6] == "oci://" }

// Ref is the chart's full reference: repo/name for OCI, name otherwise.
func (c Chart) Ref() string {
	if c.OCI() {
		return c.Repository + "/" + c.Name
	}
	return c.Name
}

// Repository is the GitOps repository the reconciler follows.
type Repository struct {
	URL    string
	Branch string
	// Path is the directory inside the repository that holds this
	// environment, like "clusters/dev".
	Path string
	Auth RepositoryAuth
}

// RepositoryAuth says how groundwork and the reconciler authenticate to Git.
// At most one of SSHKeyFile and TokenEnv is set; neither means anonymous
// (or file://).
type RepositoryAuth struct {
	SSHKeyFile     string
	KnownHostsFile string
	TokenEnv       string
	Username       string
}

// CommitSettings are the author and message of groundwork's commits.
type CommitSettings struct {
	AuthorName  string
	AuthorEmail string
	Message     string
}

// Sync configures how the reconciler follows the repository.
type Sync struct {
	Interval time.Duration
	Prune    bool
	Timeout  time.Duration // how long up waits for the reconciler to apply
	// Manual (Argo CD only) renders the Applications without automated
	// sync: Argo CD shows what Git changed and waits for someone to sync
	// (groundwork up syncs what it bootstraps). The default is automated
	// sync with prune and self-heal.
	Manual bool `json:",omitempty"`
	// Windows (Argo CD only) are sync windows on the environment's
	// AppProject, in file order.
	Windows []SyncWindow `json:",omitempty"`
}

// Sync window kinds.
const (
	WindowAllow = "allow"
	WindowDeny  = "deny"
)

// SyncWindow is an Argo CD sync window: from each time the cron schedule
// matches, for Duration, syncs are allowed (allow) or held (deny).
type SyncWindow struct {
	Kind     string
	Schedule string // five-field cron expression
	Duration time.Duration
	TimeZone string `json:",omitempty"`
	// ManualSync lets people sync by hand while the window holds
	// automated syncs.
	ManualSync bool      `json:",omitempty"`
	DeclRange  hcl.Range `json:"-"`
}

// Secrets configures the secrets integration.
type Secrets struct {
	Provider      string
	KeyStore      KeyStore
	ExternalStore *ExternalStore // external-secrets only
	// Chart, Version and Namespace are the Helm chart of the Sealed
	// Secrets or External Secrets controller (empty for sops).
	Chart     Chart
	Version   string
	Namespace string
	// Values are the controller chart's values.
	Values map[string]any
}

// KeyStore is where groundwork keeps the private keys that must survive the
// loss of the cluster.
type KeyStore struct {
	Type string
	// Path is the file store's path (file).
	Path string
	// Region and SecretName locate the key in AWS Secrets Manager.
	Region     string
	SecretName string
	// Variable is the environment variable holding the key (env).
	Variable string
}

// ExternalStore is the backing store External Secrets Operator reads.
type ExternalStore struct {
	Type    string // aws-secrets-manager
	Region  string
	RoleARN string
}

// Addon is a Helm chart rendered into the GitOps repository.
type Addon struct {
	Name            string
	Chart           Chart
	Version         string
	Namespace       string
	CreateNamespace bool
	// Values are the chart values, as plain Go values (maps, slices,
	// strings, numbers, bools) ready to be rendered as YAML.
	Values    map[string]any
	DependsOn []string
	DeclRange hcl.Range `json:"-"`
}

// Ephemeral marks a short-lived environment.
type Ephemeral struct {
	TTL time.Duration
	// Base and Suffix are set on an instance (see Environment.Instance).
	Base, Suffix string `json:",omitempty"`
}

// Notification target types.
const (
	// NotifySlack posts Slack messages to an incoming webhook.
	NotifySlack = "slack"
	// NotifyWebhook posts JSON to any HTTP endpoint.
	NotifyWebhook = "webhook"
)

// NotifyTypes lists the notification target types in the order the docs
// present them.
var NotifyTypes = []string{NotifySlack, NotifyWebhook}

// Notification events.
const (
	// EventFailure is a failed reconcile (Flux) or sync, or a degraded
	// application (Argo CD).
	EventFailure = "failure"
	// EventRecovery is a reconcile that succeeds again.
	EventRecovery = "recovery"
)

// NotifyEvents lists the notification events.
var NotifyEvents = []string{EventFailure, EventRecovery}

// Notifications are where the reconciler reports the environment's failed
// and recovered reconciles.
type Notifications struct {
	Targets   []NotificationTarget // in file order
	DeclRange hcl.Range            `json:"-"`
}

// NotificationTarget is one place notifications go. Its webhook URL is a
// credential: the spec only names the environment variable that holds it
// when up runs.
type NotificationTarget struct {
	// Name is the block's label: unique among the targets, it names the
	// reconciler's objects for the target.
	Name string
	Type string // slack | webhook
	// URLEnv names the environment variable that holds the webhook URL.
	URLEnv string
	// Channel overrides the incoming webhook's channel (slack only).
	Channel string `json:",omitempty"`
	// On are the events sent, in NotifyEvents order: failure, and
	// recovery unless the spec leaves it out.
	On        []string
	DeclRange hcl.Range `json:"-"`
}

// Wants reports whether the target is sent the event.
func (t NotificationTarget) Wants(event string) bool { return contains(t.On, event) }
