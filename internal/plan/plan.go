package plan

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// KindDefaultImage is the node image kind v0.33 uses when none is given.
const KindDefaultImage = "kindest/node:v1.37.0"

// Step names, stable: the journal keys on them.
const (
	StepState      = "state"
	StepCluster    = "cluster"
	StepKubeconfig = "kubeconfig"
	StepReconciler = "reconciler"
	StepSecrets    = "secrets"
	StepSeed       = "seed"
	StepSync       = "sync"
	StepExpiry     = "expiry"
	StepWait       = "wait"
)

// Options are the facts about the run that the spec does not hold.
type Options struct {
	// StateDir is the environment's state directory.
	StateDir string
}

// Plan is the ordered list of steps up runs for an environment.
type Plan struct {
	Env   *spec.Environment
	Steps []actions.Description
	// Terraform is what terraform plan says the cluster step would change
	// (plan --terraform on an eks, gke or aks environment); nil when not
	// asked.
	Terraform *terraform.Summary
	// Repository is what the seed step would do to the repository (read
	// from the remote); nil when not read.
	Repository *Repository
}

// Build describes the steps of up for env. It has no side effects.
func Build(env *spec.Environment, opts Options) *Plan {
	b := &builder{env: env, opts: opts, engine: engines.For(env), eplan: engines.For(env).Plan()}
	p := &Plan{Env: env}
	add := func(name, title string, inputs any, acts ...actions.Action) {
		p.Steps = append(p.Steps, actions.Description{
			Name: name, Title: title, Actions: acts,
			Fingerprint: actions.Fingerprint(struct {
				Name   string
				Inputs any
			}{name, inputs}),
		})
	}
	if env.Cluster.Remote() {
		add(StepState, "Prepare the Terraform state backend", env.State, b.stateActions()...)
	}
	add(StepCluster, b.clusterTitle(), env.Cluster, b.clusterActions()...)
	add(StepKubeconfig, "Get the cluster's kubeconfig", env.Cluster, b.kubeconfigActions()...)
	g := env.GitOps
	reconcilerInputs := append([]any{g.Engine, g.Version, g.Chart, g.Namespace}, b.eplan.ReconcilerInputs...)
	add(StepReconciler, fmt.Sprintf("Install %s with Helm", b.engine.Name()), reconcilerInputs,
		actions.Action{Op: actions.OpCreate, Resource: fmt.Sprintf("Helm release %s/%s", g.Namespace, g.Chart.Name),
			Detail: fmt.Sprintf("chart %s %s from %s; %s", g.Chart.Name, g.Version, g.Chart.Repository, b.eplan.ReconcilerHow)})
	add(StepSecrets, b.secretsTitle(), []any{env.Secrets, g.Engine, g.Namespace, g.Repository.Path}, b.secretsActions()...)
	seedInputs := []any{g.Repository, g.Commit, g.Engine, g.Version, env.Addons, env.Secrets.Provider}
	syncInputs := append([]any{g.Repository, g.Sync, g.Engine, g.Namespace}, b.eplan.SyncInputs...)
	if env.Notifications != nil {
		// Only then: the fingerprints of environments without
		// notifications stay what their journals recorded.
		seedInputs = append(seedInputs, env.Notifications)
	}
	add(StepSeed, "Seed the GitOps repository", seedInputs, b.seedActions()...)
	add(StepSync, "Point the reconciler at the repository", syncInputs, b.syncActions()...)
	if env.Ephemeral != nil {
		add(StepExpiry, "Record the environment's expiry", env.Ephemeral,
			actions.Action{Op: actions.OpCreate, Resource: "ConfigMap groundwork-system/groundwork-expiry",
				Detail: fmt.Sprintf("expires %s after the instance's first up began (recorded before the cluster step); gc deletes the environment after that", spec.FormatDuration(env.Ephemeral.TTL))})
	}
	add(StepWait, "Wait until the cluster has applied the repository", []any{g.Engine, g.Sync.Timeout}, b.waitActions()...)
	return p
}

type builder struct {
	env    *spec.Environment
	opts   Options
	engine gitops.Engine
	eplan  gitops.Plan
}

func (b *builder) stateDir(elem ...string) string {
	return filepath.Join(append([]string{b.opts.StateDir}, elem...)...)
}

func (b *builder) stateActions() []actions.Action {
	st := b.env.State
	if st == nil {
		file := b.stateDir("terraform", "terraform.tfstate")
		if e := b.env.Ephemeral; e != nil && e.Suffix != "" {
			// An instance's own Terraform workspace.
			file = b.stateDir("terraform", "terraform.tfstate.d", b.env.Name, "terraform.tfstate")
		}
		return []actions.Action{{Op: actions.OpCreate, Resource: "local Terraform state " + file,
			Detail: "kept on this machine only; add a state block to share it with your team and CI"}}
	}
	var acts []actions.Action
	if st.Create {
		acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: "s3 bucket " + st.Config["bucket"],
			Detail: fmt.Sprintf("in %s if missing, with versioning, encryption and public access blocked", st.Config["region"])})
	}
	return append(acts, actions.Action{Op: actions.OpCreate, Resource: "Terraform backend " + st.Backend,
		Detail: "configured with " + keyValues(st.Config)})
}

func (b *builder) clusterTitle() string {
	switch c := b.env.Cluster; c.Provider {
	case spec.ProviderExisting:
		return "Adopt the existing cluster"
	case spec.ProviderKind:
		return "Create the kind cluster"
	default:
		return fmt.Sprintf("Provision the %s cluster with Terraform", strings.ToUpper(c.Provider))
	}
}

func (b *builder) clusterActions() []actions.Action {
	name := b.env.Name
	switch c := b.env.Cluster; c.Provider {
	case spec.ProviderKind:
		k := c.Kind
		image := k.NodeImage
		switch {
		case image == "" && k.KubernetesVersion != "":
			image = "kindest/node:" + k.KubernetesVersion
		case image == "":
			image = KindDefaultImage + " (kind's default)"
		}
		acts := []actions.Action{{Op: actions.OpCreate, Resource: fmt.Sprintf("kind cluster %q", name),
			Detail: fmt.Sprintf("%s, node image %s", nodeCounts(k.Nodes), image)}}
		for i, n := range k.Nodes {
			for _, pm := range n.PortMappings {
				addr := pm.ListenAddress
				if addr == "" {
					addr = "0.0.0.0"
				}
				acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: fmt.Sprintf("port mapping %s:%d -> node %d port %d/%s", addr, pm.HostPort, i+1, pm.ContainerPort, pm.Protocol)})
			}
		}
		return acts
	case spec.ProviderEKS:
		e := c.EKS
		return []actions.Action{{Op: actions.OpCreate, Resource: fmt.Sprintf("EKS cluster %q", name),
			Detail: fmt.Sprintf("modules/eks in %s, Kubernetes %s, VPC %s, node pools %s", e.Region, e.KubernetesVersion, e.VPCCIDR, pools(e.NodePools))}}
	case spec.ProviderGKE:
		g := c.GKE
		return []actions.Action{{Op: actions.OpCreate, Resource: fmt.Sprintf("GKE cluster %q", name),
			Detail: fmt.Sprintf("modules/gke in project %s, %s, Kubernetes %s, network %s, node pools %s", g.Project, g.Location, g.KubernetesVersion, g.Network, pools(g.NodePools))}}
	case spec.ProviderAKS:
		a := c.AKS
		return []actions.Action{{Op: actions.OpCreate, Resource: fmt.Sprintf("AKS cluster %q", name),
			Detail: fmt.Sprintf("modules/aks in %s, resource group %s, Kubernetes %s, node pools %s", a.Location, a.ResourceGroup, a.KubernetesVersion, pools(a.NodePools))}}
	case spec.ProviderExisting:
		return []actions.Action{{Op: actions.OpRead, Resource: "cluster of " + contextName(c.Existing),
			Detail: "check it answers and which Kubernetes version it runs; groundwork does not own it and down leaves it alone"}}
	}
	return nil
}

func (b *builder) kubeconfigActions() []actions.Action {
	c := b.env.Cluster
	switch c.Provider {
	case spec.ProviderExisting:
		if a := c.Existing.EKS; a != nil {
			return []actions.Action{{Op: actions.OpCreate, Resource: "file " + b.stateDir("kubeconfig"),
				Detail: "from EKS DescribeCluster of " + a.Name + " in " + a.Region + ", authenticated with short-lived tokens from AWS STS, mode 0600"}}
		}
		return []actions.Action{{Op: actions.OpRead, Resource: "kubeconfig " + c.Existing.Kubeconfig, Detail: "context " + orCurrent(c.Existing.Context)}}
	case spec.ProviderKind:
		return []actions.Action{{Op: actions.OpCreate, Resource: "file " + b.stateDir("kubeconfig"), Detail: "exported from kind, mode 0600"}}
	}
	how := map[string]string{
		spec.ProviderEKS: "authenticated with short-lived tokens from AWS STS",
		spec.ProviderGKE: "authenticated through gke-gcloud-auth-plugin",
		spec.ProviderAKS: "authenticated through kubelogin",
	}[c.Provider]
	return []actions.Action{{Op: actions.OpCreate, Resource: "file " + b.stateDir("kubeconfig"), Detail: "from the module's outputs, " + how + ", mode 0600"}}
}

func (b *builder) secretsTitle() string {
	switch b.env.Secrets.Provider {
	case spec.SecretsSealedSecrets:
		return "Set up Sealed Secrets with a key groundwork keeps"
	case spec.SecretsExternalSecrets:
		return "Set up External Secrets Operator"
	}
	return "Set up SOPS decryption with an age key"
}

func (b *builder) secretsActions() []actions.Action {
	s, g := b.env.Secrets, b.env.GitOps
	store := keyStore(s.KeyStore)
	switch s.Provider {
	case spec.SecretsSealedSecrets:
		return []actions.Action{
			{Op: actions.OpCreate, Resource: "sealing key pairs in " + store, Detail: "a first one generated if the store has none; every key pair kept; sealing keys found in the cluster that the store lacks are added to it"},
			{Op: actions.OpCreate, Resource: "Secrets " + s.Namespace + "/groundwork-sealing-key*", Detail: "one per stored key pair, labelled as the controller's active keys, before the controller starts"},
			{Op: actions.OpCreate, Resource: "Helm release " + s.Namespace + "/" + s.Chart.Name, Detail: fmt.Sprintf("chart %s %s from %s; the controller's own key renewal off (keys rotate renews), key Secrets watched", s.Chart.Name, s.Version, s.Chart.Repository)},
		}
	case spec.SecretsExternalSecrets:
		x := s.ExternalStore
		detail := "region " + x.Region
		if x.RoleARN != "" {
			detail += ", assuming role " + x.RoleARN
		}
		return []actions.Action{
			{Op: actions.OpCreate, Resource: "Helm release " + s.Namespace + "/" + s.Chart.Name, Detail: fmt.Sprintf("chart %s %s from %s", s.Chart.Name, s.Version, s.Chart.Repository)},
			{Op: actions.OpCreate, Resource: "ClusterSecretStore " + x.Type, Detail: detail},
		}
	}
	return []actions.Action{
		{Op: actions.OpCreate, Resource: "age key in " + store, Detail: "generated if the store has none, reused otherwise"},
		{Op: actions.OpCreate, Resource: "Secret " + g.Namespace + "/sops-age", Detail: "the age identity the reconciler decrypts with"},
	}
}

func (b *builder) seedActions() []actions.Action {
	env, g := b.env, b.env.GitOps
	r := g.Repository
	acts := []actions.Action{{Op: actions.OpRead, Resource: "repository " + r.URL, Detail: fmt.Sprintf("branch %s (created if the repository is empty), %s", r.Branch, authText(r.Auth))}}
	render := func(p, detail string) {
		acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: r.Path + "/" + p, Detail: detail})
	}
	for _, f := range b.eplan.Files {
		render(f.Resource, f.Detail)
	}
	if len(env.Addons) > 0 {
		render(b.eplan.AddonsDir, fmt.Sprintf("%d addon(s), each a %s: %s", len(env.Addons), b.eplan.AddonKind, addonList(env.Addons)))
	}
	acts = append(acts, b.eplan.NotificationFiles...)
	if env.Secrets.Provider == spec.SecretsSOPS {
		acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: ".sops.yaml", Detail: "encrypt Secrets under " + r.Path + " for the environment's age recipient"})
	}
	acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: "commit on " + r.Branch,
		Detail: fmt.Sprintf("only if something changed, as %s <%s>; pushed, rebased on the remote if it moved (never forced)", g.Commit.AuthorName, g.Commit.AuthorEmail)})
	switch env.Secrets.Provider {
	case spec.SecretsSOPS:
		acts = append(acts, actions.Action{Op: actions.OpRead, Resource: "key custody", Detail: "the branch head's .sops.yaml recipients include the key store's age key, and every SOPS file under " + r.Path + " decrypts with it; the step fails naming any file that does not"})
	case spec.SecretsSealedSecrets:
		acts = append(acts, actions.Action{Op: actions.OpRead, Resource: "key custody", Detail: "every SealedSecret under " + r.Path + " at the branch head unseals with a stored sealing key; the step fails naming any that does not"})
	}
	return acts
}

func (b *builder) syncActions() []actions.Action {
	g := b.env.GitOps
	r := g.Repository
	var acts []actions.Action
	if r.Auth.SSHKeyFile != "" || r.Auth.TokenEnv != "" {
		acts = append(acts, actions.Action{Op: actions.OpCreate, Resource: "Secret " + g.Namespace + "/" + b.eplan.CredentialsSecret, Detail: "Git credentials: " + authText(r.Auth)})
	}
	return append(acts, b.eplan.Sync...)
}

func (b *builder) waitActions() []actions.Action { return b.eplan.Wait }

func nodeCounts(nodes []spec.KindNode) string {
	cp, w := 0, 0
	for _, n := range nodes {
		if n.Role == "control-plane" {
			cp++
		} else {
			w++
		}
	}
	s := fmt.Sprintf("%d control-plane node%s", cp, plural(cp))
	if w > 0 {
		s += fmt.Sprintf(", %d worker%s", w, plural(w))
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pools(ps []spec.NodePool) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s (%s, %d-%d, desired %d)", p.Name, p.InstanceType, p.MinSize, p.MaxSize, p.DesiredSize)
	}
	return strings.Join(parts, ", ")
}

func contextName(e *spec.ExistingCluster) string {
	if e.EKS != nil {
		return "EKS cluster " + e.EKS.Name + " in " + e.EKS.Region
	}
	return fmt.Sprintf("context %s in %s", orCurrent(e.Context), e.Kubeconfig)
}

func orCurrent(ctx string) string {
	if ctx == "" {
		return "(current context)"
	}
	return ctx
}

func keyStore(ks spec.KeyStore) string {
	switch ks.Type {
	case spec.KeyStoreAWSSecretsManager:
		return fmt.Sprintf("AWS Secrets Manager secret %s (%s)", ks.SecretName, ks.Region)
	case spec.KeyStoreEnv:
		return "environment variable " + ks.Variable
	}
	return "file " + ks.Path + " (0600)"
}

func authText(a spec.RepositoryAuth) string {
	switch {
	case a.SSHKeyFile != "":
		return "SSH key " + a.SSHKeyFile
	case a.TokenEnv != "":
		return "token from $" + a.TokenEnv
	}
	return "no credentials"
}

func addonList(addons []spec.Addon) string {
	const shown = 5
	parts := make([]string, 0, shown)
	for i, a := range addons {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(addons)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s %s)", a.Name, a.Chart.Name, a.Version))
	}
	return strings.Join(parts, ", ")
}

func keyValues(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if secretSetting(k) {
			v = "(sensitive)"
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, ", ")
}

// secretSetting reports whether a backend setting may hold a credential, so
// that plan never prints it.
func secretSetting(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"secret", "token", "password", "access_key", "sas", "credentials", "client_certificate", "private"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RecordedExpiry is the expiry of the ephemeral instance whose journal j is,
// as its first up fixed it before its cluster step (an older groundwork
// recorded it in the cluster step's outputs).
func RecordedExpiry(j *actions.Journal) (time.Time, bool) {
	for _, step := range []string{StepExpiry, StepCluster} {
		if s, ok := j.Output(step, "expires"); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
