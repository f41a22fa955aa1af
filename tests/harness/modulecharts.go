package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// ModuleChart is an upstream chart published inside the Go module of the
// controller it installs, at the version a tools module under tests/tools
// pins (so the chart and the controller the host kubelet runs come from one
// source tree, checked against that tools module's go.sum).
type ModuleChart struct {
	// Component is the testbin component (and tools module) that pins the
	// module; "" for a chart whose controller the tests do not run.
	Component string
	// Module and Version name the module holding the chart (after the tools
	// module's replace directives).
	Module, Version string
	// Dir is the chart's folder in the module.
	Dir string
	// CRDs are globs, in the module, of CRDs the project generates into the
	// chart only when it packages a release; they are added to crds/.
	CRDs []string
}

// The charts of the secrets controllers the tests run.
var (
	// SealedSecretsChart is chart 2.19.3 (groundwork's default) as the
	// Sealed Secrets v0.40.0 source tree has it.
	SealedSecretsChart = ModuleChart{Component: "sealedsecrets", Module: "github.com/bitnami-labs/sealed-secrets", Version: "v0.40.0",
		Dir: "helm/sealed-secrets"}
	// ExternalSecretsChart is the chart of External Secrets v0.20.4's
	// source tree (it calls itself 0.20.3: the project bumps the chart after
	// tagging). Its release packaging generates the CRDs into the chart;
	// here they come from the same tree's config/crds/bases, into crds/.
	ExternalSecretsChart = ModuleChart{Component: "externalsecrets", Module: "github.com/external-secrets/external-secrets", Version: "v0.20.4",
		Dir: "deploy/charts/external-secrets", CRDs: []string{"config/crds/bases/*.io_*.yaml"}}
)

// ModuleDir downloads a module version into the module cache (from the Go
// module proxy, verified against the component's tools module go.sum, or
// against the checksum database when component is "") and returns its
// folder.
func ModuleDir(component, module, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if component != "" {
		cmd.Dir = filepath.Join(ToolsDir(), component)
	} else {
		dir, err := os.MkdirTemp("", "groundwork-moduledir-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s (in %s): %v\n%s", module, version, cmd.Dir, err, out)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", module, version, err, m.Error, out)
	}
	return m.Dir, nil
}

// Load loads the chart from its module.
func (m ModuleChart) Load(t testing.TB) *chart.Chart {
	t.Helper()
	root, err := ModuleDir(m.Component, m.Module, m.Version)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(filepath.Join(root, m.Dir))
	if err != nil {
		t.Fatalf("load chart %s from %s@%s: %v", m.Dir, m.Module, m.Version, err)
	}
	for _, g := range m.CRDs {
		files, _ := filepath.Glob(filepath.Join(root, g))
		if len(files) == 0 {
			t.Fatalf("no CRDs at %s in %s@%s", g, m.Module, m.Version)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ch.Files = append(ch.Files, &chart.File{Name: "crds/" + filepath.Base(f), Data: b})
		}
	}
	return ch
}
