package kind

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Config translates the spec's kind block into kind's cluster config.
func Config(name string, k *spec.KindCluster) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     name,
	}
	image := Image(k)
	for _, n := range k.Nodes {
		node := v1alpha4.Node{Role: v1alpha4.NodeRole(n.Role), Image: image, Labels: n.Labels}
		for _, pm := range n.PortMappings {
			node.ExtraPortMappings = append(node.ExtraPortMappings, v1alpha4.PortMapping{
				ContainerPort: int32(pm.ContainerPort), HostPort: int32(pm.HostPort),
				ListenAddress: pm.ListenAddress, Protocol: v1alpha4.PortMappingProtocol(pm.Protocol),
			})
		}
		cfg.Nodes = append(cfg.Nodes, node)
	}
	return cfg
}

// Image is the node image the spec asks for; empty means kind's default.
func Image(k *spec.KindCluster) string {
	if k.NodeImage != "" {
		return k.NodeImage
	}
	if k.KubernetesVersion != "" {
		return "kindest/node:" + k.KubernetesVersion
	}
	return ""
}

// provider is the part of kind's cluster.Provider this package uses.
type provider interface {
	Create(name string, options ...cluster.CreateOption) error
	List() ([]string, error)
	KubeConfig(name string, internal bool) (string, error)
	Delete(name, explicitKubeconfigPath string) error
}

// NoRuntimeError says no container runtime answered.
type NoRuntimeError struct {
	// Tried maps each runtime client found to what its info command said.
	Tried map[string]string
}

func (e *NoRuntimeError) Error() string {
	if len(e.Tried) == 0 {
		return "kind needs a container runtime, and neither docker nor podman is installed on this machine. Install and start Docker or Podman, or use cluster \"existing\" with a cluster you already have"
	}
	var b strings.Builder
	b.WriteString("kind needs a running container runtime, and none answered:")
	for _, rt := range slices.Sorted(maps.Keys(e.Tried)) {
		fmt.Fprintf(&b, "\n  %s info: %s", rt, e.Tried[rt])
	}
	b.WriteString("\nStart the Docker daemon (or Podman), or use cluster \"existing\" with a cluster you already have")
	return b.String()
}

// Runtime finds a container runtime that answers and returns the kind
// provider option for it.
func Runtime(ctx context.Context) (cluster.ProviderOption, error) {
	tried := map[string]string{}
	for _, rt := range []struct {
		bin string
		opt cluster.ProviderOption
	}{{"docker", cluster.ProviderWithDocker()}, {"podman", cluster.ProviderWithPodman()}} {
		if _, err := exec.LookPath(rt.bin); err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := exec.CommandContext(cctx, rt.bin, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
		cancel()
		if err == nil {
			return rt.opt, nil
		}
		tried[rt.bin] = firstLine(string(out), err)
	}
	return nil, &NoRuntimeError{Tried: tried}
}

func firstLine(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return err.Error()
}

// Cluster is one kind cluster of an environment.
type Cluster struct {
	Name           string
	Spec           *spec.KindCluster
	KubeconfigPath string
	// WaitForReady is how long create waits for the control plane.
	WaitForReady time.Duration

	p provider
}

// New returns the cluster, with a provider for the container runtime that
// answers on this machine.
func New(ctx context.Context, name string, k *spec.KindCluster, kubeconfigPath string) (*Cluster, error) {
	opt, err := Runtime(ctx)
	if err != nil {
		return nil, err
	}
	return &Cluster{Name: name, Spec: k, KubeconfigPath: kubeconfigPath, WaitForReady: 5 * time.Minute, p: cluster.NewProvider(opt)}, nil
}

// Exists reports whether kind knows the cluster.
func (c *Cluster) Exists() (bool, error) {
	names, err := c.p.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return slices.Contains(names, c.Name), nil
}

// Ensure creates the cluster unless it exists, and writes its kubeconfig;
// created says whether it had to create it.
func (c *Cluster) Ensure(ctx context.Context) (created bool, err error) {
	exists, err := c.Exists()
	if err != nil {
		return false, err
	}
	if !exists {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		// kind writes a kubeconfig as it creates; keep it in the state
		// directory, never in the user's ~/.kube/config.
		if err := os.MkdirAll(filepath.Dir(c.KubeconfigPath), 0o700); err != nil {
			return false, err
		}
		err := c.p.Create(c.Name,
			cluster.CreateWithV1Alpha4Config(Config(c.Name, c.Spec)),
			cluster.CreateWithKubeconfigPath(c.KubeconfigPath),
			cluster.CreateWithWaitForReady(c.WaitForReady),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false))
		if err != nil {
			return false, fmt.Errorf("create kind cluster %s: %w (run groundwork up again to resume, or groundwork down to clean up)", c.Name, err)
		}
		created = true
	}
	return created, c.writeKubeconfig()
}

func (c *Cluster) writeKubeconfig() error {
	cfg, err := c.p.KubeConfig(c.Name, false)
	if err != nil {
		return fmt.Errorf("kubeconfig of kind cluster %s: %w", c.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(c.KubeconfigPath), 0o700); err != nil {
		return err
	}
	tmp := c.KubeconfigPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.KubeconfigPath)
}

// Delete deletes the cluster if it exists, and its kubeconfig.
func (c *Cluster) Delete() error {
	exists, err := c.Exists()
	if err != nil {
		return err
	}
	if exists {
		if err := c.p.Delete(c.Name, c.KubeconfigPath); err != nil {
			return fmt.Errorf("delete kind cluster %s: %w", c.Name, err)
		}
	}
	if err := os.Remove(c.KubeconfigPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
