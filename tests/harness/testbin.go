package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Component is one group of binaries built together from a tools module under
// tests/tools/. Building a group with a single `go build` invocation lets the
// binaries share compiled packages.
type Component struct {
	// Name is the cache key prefix and the tools module directory name.
	Name string
	// Version is the pinned version; the cache directory is <Name>-<Version>.
	Version string
	// Packages are the main packages to build, relative to the tools module.
	Packages []string
	// Binaries are the file names produced by building Packages.
	Binaries []string
	// VersionArgs, when set, is run against a binary found outside the cache
	// (PATH) and its output must contain VersionMatch for it to be used.
	VersionArgs  []string
	VersionMatch string
	// LDFlags are passed to go build (-ldflags), e.g. to stamp versions the
	// way the upstream release builds do.
	LDFlags string
	// KubebuilderAssets lists binaries of this component that may be taken
	// from $KUBEBUILDER_ASSETS.
	KubebuilderAssets []string
}

// Components are all binary groups the harness uses, in build order.
var Components = []Component{
	{
		Name:    "etcd",
		Version: "v3.6.6",
		Packages: []string{
			"./cmd/etcd",
		},
		Binaries:          []string{"etcd"},
		VersionArgs:       []string{"--version"},
		VersionMatch:      "etcd Version: 3.6.6",
		KubebuilderAssets: []string{"etcd"},
	},
	{
		Name:    "k8s",
		Version: "v1.34.4-1",
		Packages: []string{
			"k8s.io/kubernetes/cmd/kube-apiserver",
			"k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler",
		},
		Binaries: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"},
		// Without these the API server reports v0.0.0-master and Helm's
		// kubeVersion constraints fail.
		LDFlags: "-X k8s.io/component-base/version.gitVersion=v1.34.4 -X k8s.io/component-base/version.gitMajor=1" +
			" -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean" +
			" -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z",
		VersionArgs:       []string{"--version"},
		VersionMatch:      "Kubernetes v1.34.4",
		KubebuilderAssets: []string{"kube-apiserver"},
	},
	{
		Name:         "kwok",
		Version:      "v0.7.0",
		Packages:     []string{"sigs.k8s.io/kwok/cmd/kwok"},
		Binaries:     []string{"kwok"},
		VersionArgs:  []string{"--version"},
		VersionMatch: "v0.7.0",
	},
	{
		Name:    "flux",
		Version: "sc-v1.7.0-kc-v1.7.3",
		Packages: []string{
			"github.com/fluxcd/source-controller",
			"github.com/fluxcd/kustomize-controller",
		},
		Binaries: []string{"source-controller", "kustomize-controller"},
	},
	{
		// The flux2 chart pins helm-controller v1.4.2, which the module
		// proxy refuses; v1.4.3 is the nearest patch release.
		Name:     "helmcontroller",
		Version:  "v1.4.3",
		Packages: []string{"github.com/fluxcd/helm-controller"},
		Binaries: []string{"helm-controller"},
	},
	{
		// The flux2 chart pins notification-controller v1.7.3; v1.7.x is
		// refused by the module proxy, v1.6.0 is the nearest that builds.
		Name:     "notification",
		Version:  "v1.6.0",
		Packages: []string{"github.com/fluxcd/notification-controller"},
		Binaries: []string{"notification-controller"},
	},
	{
		// The Sealed Secrets controller. Its v0.40.0 module still declares
		// github.com/bitnami/sealed-secrets (the tools module replaces it by
		// the bitnami-labs path). The chart the tests install is the one in
		// the same module (helm/sealed-secrets, chart 2.19.3).
		Name:         "sealedsecrets",
		Version:      "v0.40.0",
		Packages:     []string{"github.com/bitnami/sealed-secrets/cmd/controller"},
		Binaries:     []string{"controller"},
		VersionArgs:  []string{"--version"},
		VersionMatch: "v0.40.0",
	},
	{
		// External Secrets Operator: controller, webhook and cert
		// controller in one binary. v1.3.2 (what groundwork installs by
		// default) does not build from the module proxy: its runtime
		// submodule at v0.0.0 is refused; v0.20.4 is the newest that does,
		// and serves external-secrets.io/v1 as v1.x does.
		Name:     "externalsecrets",
		Version:  "v0.20.4",
		Packages: []string{"github.com/external-secrets/external-secrets"},
		Binaries: []string{"external-secrets"},
	},
	{
		Name:    "sops",
		Version: "v3.13.3-age-v1.3.1",
		Packages: []string{
			"github.com/getsops/sops/v3/cmd/sops",
			"filippo.io/age/cmd/age-keygen",
		},
		Binaries: []string{"sops", "age-keygen"},
	},
	{
		// Argo CD's multi-call binary; the harness links it as
		// argocd-application-controller and argocd-repo-server (it acts by
		// the name it is run as). The module carries Argo CD's replace block.
		Name:     "argocd",
		Version:  "v3.2.11",
		Packages: []string{"github.com/argoproj/argo-cd/v3/cmd"},
		Binaries: []string{"cmd"},
		LDFlags:  "-X github.com/argoproj/argo-cd/v3/common.version=3.2.11",
	},
	{
		// The helm binary Argo CD's repo-server runs to render Helm sources
		// (the version Argo CD v3.2 ships with).
		Name:     "helm",
		Version:  "v3.18.4",
		Packages: []string{"helm.sh/helm/v3/cmd/helm"},
		Binaries: []string{"helm"},
		LDFlags:  "-X helm.sh/helm/v3/internal/version.version=v3.18.4",
	},
	{
		// The kustomize binary Argo CD's repo-server runs to render
		// Kustomize sources.
		Name:     "kustomize",
		Version:  "v5.7.1",
		Packages: []string{"sigs.k8s.io/kustomize/kustomize/v5"},
		Binaries: []string{"kustomize"},
	},
}

// BuildError is returned when building a tools module fails. It carries the
// command line and its combined output.
type BuildError struct {
	Component string
	Command   string
	Output    string
	Err       error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("building %s: %s: %v\n%s", e.Component, e.Command, e.Err, e.Output)
}

func (e *BuildError) Unwrap() error { return e.Err }

// TestbinDir returns the root of the binary cache: $GROUNDWORK_TESTBIN or
// $HOME/.cache/groundwork/testbin.
func TestbinDir() (string, error) {
	if d := os.Getenv("GROUNDWORK_TESTBIN"); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating home directory for the testbin cache: %w", err)
	}
	return filepath.Join(home, ".cache", "groundwork", "testbin"), nil
}

// ToolsDir returns the absolute path of tests/tools in this checkout.
func ToolsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "tools")
}

func componentFor(binary string) (Component, error) {
	for _, c := range Components {
		for _, b := range c.Binaries {
			if b == binary {
				return c, nil
			}
		}
	}
	return Component{}, fmt.Errorf("unknown test binary %q", binary)
}

// Binary returns the path of a named test binary (e.g. "kube-apiserver"),
// building its component into the cache if it is not provided or cached.
// Lookup order: $KUBEBUILDER_ASSETS (etcd, kube-apiserver), the cache,
// PATH (only when its version matches), then a build.
func Binary(ctx context.Context, name string) (string, error) {
	c, err := componentFor(name)
	if err != nil {
		return "", err
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		for _, a := range c.KubebuilderAssets {
			if a == name {
				p := filepath.Join(assets, name)
				if isExecutable(p) {
					return p, nil
				}
			}
		}
	}
	dir, err := componentDir(c)
	if err != nil {
		return "", err
	}
	if p := filepath.Join(dir, name); isExecutable(p) {
		return p, nil
	}
	if c.VersionMatch != "" {
		if p, err := exec.LookPath(name); err == nil {
			out, _ := exec.CommandContext(ctx, p, c.VersionArgs...).CombinedOutput()
			if strings.Contains(string(out), c.VersionMatch) {
				return p, nil
			}
		}
	}
	if err := EnsureComponent(ctx, c, os.Stderr); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func componentDir(c Component) (string, error) {
	root, err := TestbinDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, c.Name+"-"+c.Version), nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// EnsureComponent builds the component into the cache unless it is already
// there. Concurrent callers (also in other processes) are serialised with a
// file lock; the binaries are built into a temporary directory that is
// renamed into place, so a half-built cache entry is never visible.
func EnsureComponent(ctx context.Context, c Component, progress *os.File) error {
	dir, err := componentDir(c)
	if err != nil {
		return err
	}
	if complete(dir, c) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if complete(dir, c) {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), c.Name+"-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := []string{"build", "-o", tmp + string(os.PathSeparator)}
	if c.LDFlags != "" {
		args = append(args, "-ldflags="+c.LDFlags)
	}
	args = append(args, c.Packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(ToolsDir(), c.Name)
	// The tools modules carry their own go.sum; never let a workspace or
	// the caller's GOFLAGS (e.g. -mod=vendor) interfere.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if progress != nil {
		fmt.Fprintf(progress, "groundwork testbin: building %s %s into %s (go %s)\n", c.Name, c.Version, dir, strings.Join(args, " "))
	}
	if err := cmd.Run(); err != nil {
		return &BuildError{Component: c.Name, Command: "go " + strings.Join(args, " ") + " (in " + cmd.Dir + ")", Output: out.String(), Err: err}
	}
	if progress != nil {
		fmt.Fprintf(progress, "groundwork testbin: built %s in %s\n", c.Name, time.Since(start).Round(time.Second))
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("installing %s into the testbin cache: %w", c.Name, err)
	}
	return nil
}

func complete(dir string, c Component) bool {
	for _, b := range c.Binaries {
		if !isExecutable(filepath.Join(dir, b)) {
			return false
		}
	}
	return true
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// EnsureAll builds every component that is missing from the cache. It is
// what `go run ./tests/harness/cmd/testbin` (make testbin) calls.
func EnsureAll(ctx context.Context, progress *os.File) error {
	for _, c := range Components {
		if err := EnsureComponent(ctx, c, progress); err != nil {
			return err
		}
	}
	return nil
}
