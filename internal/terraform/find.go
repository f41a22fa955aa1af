package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	tfjson "github.com/hashicorp/terraform-json"
)

// Versions groundwork needs and installs.
const (
	// MinVersion is the oldest terraform (or tofu) groundwork drives: init
	// -json needs 1.9, the s3 backend's use_lockfile 1.10.
	MinVersion = "1.10.0"
	// PinnedVersion is the terraform groundwork installs when none is on
	// PATH.
	PinnedVersion = "1.11.4"
)

// Binary is a terraform or tofu executable groundwork found or installed.
type Binary struct {
	Path    string
	Product string // "terraform" or "tofu"
	Version *version.Version
	// Installed is true when groundwork installed it into its cache.
	Installed bool
}

func (b *Binary) String() string {
	s := fmt.Sprintf("%s %s (%s)", b.Product, b.Version, b.Path)
	if b.Installed {
		s += ", installed by groundwork"
	}
	return s
}

// Installer installs terraform at version v into dir and returns the
// executable's path. Find uses hc-install's releases source unless told
// otherwise.
type Installer interface {
	Install(ctx context.Context, v *version.Version, dir string) (string, error)
}

// FindOptions say where Find looks.
type FindOptions struct {
	// Path is the search path; empty means $PATH.
	Path string
	// CacheDir holds installed binaries, under terraform/<version>; empty
	// means the user's cache directory/groundwork.
	CacheDir string
	// Installer installs PinnedVersion when no suitable binary is found;
	// nil means hc-install from releases.hashicorp.com.
	Installer Installer
	// Logf says what Find did (it always says when it installs).
	Logf func(format string, args ...any)
}

// NotFoundError says no suitable terraform could be found or installed.
type NotFoundError struct {
	// Rejected lists the binaries found but unusable, and why.
	Rejected []string
	// InstallErr is why installing PinnedVersion failed.
	InstallErr error
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no terraform or tofu %s or later on PATH", MinVersion)
	if len(e.Rejected) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.Rejected, "; "))
	}
	fmt.Fprintf(&b, ", and installing terraform %s failed: %v. Install terraform %s or later (https://developer.hashicorp.com/terraform/install) or tofu, and put it on PATH", PinnedVersion, e.InstallErr, MinVersion)
	return b.String()
}

func (e *NotFoundError) Unwrap() error { return e.InstallErr }

// Find returns the terraform (first) or tofu on the search path at
// MinVersion or later; failing that, a terraform PinnedVersion groundwork
// installed into its cache earlier, or installs now.
func Find(ctx context.Context, o FindOptions) (*Binary, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Path == "" {
		o.Path = os.Getenv("PATH")
	}
	minV := version.Must(version.NewVersion(MinVersion))
	var rejected []string
	for _, name := range []string{"terraform", "tofu"} {
		for _, dir := range filepath.SplitList(o.Path) {
			if dir == "" {
				continue
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				continue
			}
			v, err := binaryVersion(ctx, p)
			switch {
			case err != nil:
				rejected = append(rejected, fmt.Sprintf("%s: %v", p, err))
			case v.LessThan(minV):
				rejected = append(rejected, fmt.Sprintf("%s is %s %s, older than %s", p, name, v, MinVersion))
			default:
				return &Binary{Path: p, Product: name, Version: v}, nil
			}
		}
	}
	if o.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, &NotFoundError{Rejected: rejected, InstallErr: err}
		}
		o.CacheDir = filepath.Join(dir, "groundwork")
	}
	pinned := version.Must(version.NewVersion(PinnedVersion))
	dir := filepath.Join(o.CacheDir, "terraform", PinnedVersion)
	cached := filepath.Join(dir, "terraform")
	if v, err := binaryVersion(ctx, cached); err == nil && v.Equal(pinned) {
		o.Logf("using terraform %s installed by groundwork in %s", v, dir)
		return &Binary{Path: cached, Product: "terraform", Version: v, Installed: true}, nil
	}
	if o.Installer == nil {
		o.Installer = hcInstaller{}
	}
	o.Logf("no terraform or tofu %s or later on PATH: installing terraform %s into %s", MinVersion, PinnedVersion, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &NotFoundError{Rejected: rejected, InstallErr: err}
	}
	p, err := o.Installer.Install(ctx, pinned, dir)
	if err != nil {
		return nil, &NotFoundError{Rejected: rejected, InstallErr: err}
	}
	v, err := binaryVersion(ctx, p)
	if err != nil {
		return nil, &NotFoundError{Rejected: rejected, InstallErr: fmt.Errorf("the installed %s does not run: %w", p, err)}
	}
	if !v.Equal(pinned) {
		return nil, &NotFoundError{Rejected: rejected, InstallErr: fmt.Errorf("the installed %s is %s, not %s", p, v, pinned)}
	}
	return &Binary{Path: p, Product: "terraform", Version: v, Installed: true}, nil
}

// binaryVersion runs "<path> version -json" (terraform and tofu both
// answer it).
func binaryVersion(ctx context.Context, path string) (*version.Version, error) {
	cmd := exec.CommandContext(ctx, path, "version", "-json")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("version -json: %w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("version -json: %w", err)
	}
	var vo tfjson.VersionOutput
	if err := json.Unmarshal(out, &vo); err != nil || vo.Version == "" {
		return nil, fmt.Errorf("version -json printed no version (too old?)")
	}
	return version.NewVersion(vo.Version)
}

// hcInstaller installs terraform from releases.hashicorp.com, verifying
// its checksums and signature (hc-install).
type hcInstaller struct{}

func (hcInstaller) Install(ctx context.Context, v *version.Version, dir string) (string, error) {
	src := &releases.ExactVersion{Product: product.Terraform, Version: v, InstallDir: dir}
	return src.Install(ctx)
}
