package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
)

// fakeBinary writes an executable that answers "version -json" like the
// given product and version.
func fakeBinary(t *testing.T, dir, name, v string) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\necho '{\"terraform_version\":\"%s\",\"platform\":\"linux_amd64\"}'\n", v)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// copyInstaller "installs" by copying the real terraform binary: what
// hc-install would download from releases.hashicorp.com, which tests
// cannot reach.
type copyInstaller struct {
	src   string
	calls int
}

func (c *copyInstaller) Install(_ context.Context, v *version.Version, dir string) (string, error) {
	c.calls++
	data, err := os.ReadFile(c.src)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "terraform")
	return p, os.WriteFile(p, data, 0o755)
}

func TestFindPrefersPathAndChecksVersion(t *testing.T) {
	dir := t.TempDir()
	old, good := filepath.Join(dir, "old"), filepath.Join(dir, "good")
	for _, d := range []string{old, good} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fakeBinary(t, old, "terraform", "1.5.7")
	fakeBinary(t, good, "tofu", "1.10.2")
	bin, err := Find(context.Background(), FindOptions{Path: old + string(os.PathListSeparator) + good, CacheDir: t.TempDir(), Installer: failingInstaller{}})
	if err != nil {
		t.Fatal(err)
	}
	if bin.Product != "tofu" || bin.Version.String() != "1.10.2" || bin.Installed {
		t.Fatalf("Find = %s, want the tofu 1.10.2 on PATH (terraform 1.5.7 is too old)", bin)
	}
}

func TestFindInstallsPinnedVersion(t *testing.T) {
	real, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH")
	}
	if v, err := binaryVersion(context.Background(), real); err != nil || v.String() != PinnedVersion {
		t.Skipf("the terraform on PATH is %v, not the pinned %s", v, PinnedVersion)
	}
	old := t.TempDir()
	fakeBinary(t, old, "terraform", "1.5.7")
	cache := t.TempDir()
	inst := &copyInstaller{src: real}
	var said []string
	logf := func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
	bin, err := Find(context.Background(), FindOptions{Path: old, CacheDir: cache, Installer: inst, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "terraform", PinnedVersion, "terraform")
	if !bin.Installed || bin.Path != want || bin.Version.String() != PinnedVersion || inst.calls != 1 {
		t.Fatalf("Find = %s (installer called %d times), want terraform %s installed at %s", bin, inst.calls, PinnedVersion, want)
	}
	if len(said) == 0 || !strings.Contains(said[0], "installing terraform "+PinnedVersion) {
		t.Errorf("Find did not say it installs: %q", said)
	}
	// The next run reuses the cached binary.
	bin, err = Find(context.Background(), FindOptions{Path: old, CacheDir: cache, Installer: inst})
	if err != nil || bin.Path != want || inst.calls != 1 {
		t.Fatalf("second Find = %v, %v (installer called %d times), want the cached binary", bin, err, inst.calls)
	}
}

func TestFindNothingUsable(t *testing.T) {
	old := t.TempDir()
	fakeBinary(t, old, "terraform", "1.5.7")
	_, err := Find(context.Background(), FindOptions{Path: old, CacheDir: t.TempDir(), Installer: failingInstaller{}})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Find error %v, want *NotFoundError", err)
	}
	for _, want := range []string{"older than " + MinVersion, "no network in tests", "put it on PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
