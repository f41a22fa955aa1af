package modules_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/groundwork-dev/groundwork/modules"
	"github.com/groundwork-dev/groundwork/modules/contract"
)

// terraformVersions are the Terraform releases every required_version in
// the module trees must admit: internal/terraform's MinVersion and
// PinnedVersion.
var terraformVersions = []string{"1.10.0", "1.11.4"}

// modulesEnv names where the community modules are read from, overriding
// the default: a folder of their archives, or a Terraform working
// directory terraform init has fetched them into (.terraform/modules), or a
// list of those separated by the OS's path list separator.
const modulesEnv = "GROUNDWORK_TERRAFORM_MODULES"

// defaultArchives is the shared terraform-modules folder beside the
// repository.
var defaultArchives = filepath.Join("..", "..", "shared", "terraform-modules")

// communitySource finds the community modules. It fails, never skips, when
// they are missing: the check is static and takes well under a second, and
// a skipped contract test is how a removed input reaches a user's first
// cloud up unnoticed.
func communitySource(t *testing.T) contract.Source {
	t.Helper()
	where, set := os.LookupEnv(modulesEnv)
	if !set || where == "" {
		where = defaultArchives
	}
	src, err := contract.SourcesAt(where)
	if err != nil {
		abs, _ := filepath.Abs(where)
		how := fmt.Sprintf("%s is not set, so they are read from the shared folder beside the repository, %s", modulesEnv, abs)
		if set {
			how = fmt.Sprintf("%s=%s", modulesEnv, where)
		}
		t.Fatalf("the community Terraform modules that modules/eks, modules/gke and modules/aks wrap cannot be read (%v); %s.\n"+
			"Provide them: put the archives of contract.Pinned (%s) in that folder, "+
			"or set %s to a folder that holds them, or to Terraform working directories in which terraform init has fetched the modules "+
			"(.terraform/modules; several separated by %q)", err, how, archiveNames(), modulesEnv, string(os.PathListSeparator))
	}
	return src
}

func archiveNames() string {
	var names []string
	for _, p := range contract.Pinned {
		names = append(names, p.Archive)
	}
	return strings.Join(names, ", ")
}

// wrapper loads the embedded module name, as up stages it.
func wrapper(t *testing.T, name string) *contract.Module {
	t.Helper()
	fsys, err := modules.FS(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := contract.LoadDir(fsys, ".", "modules/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func report(t *testing.T, rep contract.Report) {
	t.Helper()
	for _, n := range rep.Notes {
		t.Log(n)
	}
	for _, p := range rep.Problems {
		t.Error(p)
	}
}

// TestWrappersMatchCommunityModules checks each wrapper against the
// community modules it calls, at their pinned versions: arguments,
// required variables, outputs read, types, provider constraints across the
// tree, and Terraform 1.10+.
func TestWrappersMatchCommunityModules(t *testing.T) {
	src := communitySource(t)
	called := map[string]bool{}
	for _, name := range modules.Names {
		t.Run(name, func(t *testing.T) {
			m := wrapper(t, name)
			if len(m.Calls) == 0 {
				t.Errorf("modules/%s calls no community module", name)
			}
			for _, c := range m.Calls {
				called[contract.NormalizeAddress(c.Source)+" "+c.Version] = true
			}
			report(t, contract.Check(m, &contract.Resolver{Source: src}, terraformVersions))
		})
	}
	for _, p := range contract.Pinned {
		if !called[contract.NormalizeAddress(p.Address)+" "+p.Version] {
			t.Errorf("contract.Pinned holds %s %s, which no module calls any more: remove it", p.Address, p.Version)
		}
	}
}

// TestRenderedRootsMatchWrappers checks the root modules groundwork renders
// for the example environments (internal/cluster/remote's goldens) against
// the wrappers they call: the same checks as between a wrapper and a
// community module.
func TestRenderedRootsMatchWrappers(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join("..", "internal", "cluster", "remote", "testdata", "*.main.tf.golden"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no rendered root modules (%v)", err)
	}
	r := &contract.Resolver{Local: func(_ *contract.Module, source string) (*contract.Module, error) {
		name, ok := strings.CutPrefix(source, "./modules/")
		if !ok {
			return nil, fmt.Errorf("%q is not a module groundwork embeds", source)
		}
		fsys, err := modules.FS(name)
		if err != nil {
			return nil, err
		}
		if _, err := fs.Stat(fsys, "main.tf"); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%q is not a module groundwork embeds", source)
		}
		return contract.LoadDir(fsys, ".", "modules/"+name)
	}}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			src, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			root, err := contract.LoadFile(filepath.ToSlash(strings.TrimPrefix(g, "../")), src)
			if err != nil {
				t.Fatal(err)
			}
			if len(root.Calls) != 1 {
				t.Errorf("%d module calls, want the cluster module", len(root.Calls))
			}
			report(t, contract.CheckCalls(root, r))
		})
	}
}

// TestFixtureModules keeps the fake eks module the tests run terraform
// with declaring exactly modules/eks's interface, and both fixture modules
// (that one and internal/terraform's) runnable by the Terraform versions
// groundwork supports without a provider download.
func TestFixtureModules(t *testing.T) {
	load := func(dir string) *contract.Module {
		t.Helper()
		m, err := contract.LoadDir(os.DirFS(filepath.Join("..", filepath.FromSlash(dir))), ".", dir)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fake := load("internal/cluster/remote/testdata/fake-eks")
	for _, p := range contract.CompareInterfaces(wrapper(t, "eks"), fake) {
		t.Error(p)
	}
	for _, m := range []*contract.Module{fake, load("internal/terraform/testdata/fixture")} {
		for name := range m.Config.RequiredProviders {
			if name != "terraform" {
				t.Errorf("%s needs provider %q", m.Name, name)
			}
		}
		if len(m.Calls) != 0 {
			t.Errorf("%s calls other modules", m.Name)
		}
		report(t, contract.CheckTree(m, &contract.Resolver{}, terraformVersions))
	}
}

// TestContractCatchesBreakage breaks the wrappers the way an upgrade or a
// typo would and wants the check to say so: it is what proves the check
// reads the pinned modules rather than passing by default.
func TestContractCatchesBreakage(t *testing.T) {
	r := &contract.Resolver{Source: communitySource(t)}
	for _, tc := range []struct {
		module, file, old, new string
		check, says            string
	}{
		// The name terraform-aws-modules/eks/aws took in v21.
		{"eks", "main.tf", "cluster_endpoint_public_access  ", "endpoint_public_access", "argument", `passes "endpoint_public_access"`},
		{"eks", "outputs.tf", "module.eks.cluster_certificate_authority_data", "module.eks.cluster_ca_data", "output", `no output "cluster_ca_data"`},
		{"eks", "versions.tf", `">= 5.95, < 6.0"`, `">= 6.0"`, "provider", "registry.terraform.io/hashicorp/aws"},
		{"gke", "main.tf", `ip_range_pods     = "${var.name}-pods"`, "", "required", `does not set "ip_range_pods"`},
		{"gke", "main.tf", "zones              = local.regional ? [] : [var.location]", "zones = var.location", "type", "zones is string, which does not convert to list(string)"},
		{"gke", "versions.tf", `required_version = ">= 1.10.0"`, `required_version = "< 1.10"`, "terraform", "does not admit Terraform 1.10.0"},
		{"aks", "main.tf", "node_labels         = var.node_pools[name].labels", "labels = var.node_pools[name].labels", "type", `has attribute "labels", which the type does not declare`},
		{"aks", "main.tf", "min_count           = var.node_pools[name].min_size", "min_count = [var.node_pools[name].min_size]", "type", "min_count is tuple([number]), which does not convert to number"},
		// azurerm 4 is what Azure/aks/azurerm 10 moved to.
		{"aks", "versions.tf", `">= 3.106, < 4.0"`, `">= 4.0"`, "provider", "registry.terraform.io/hashicorp/azurerm"},
	} {
		t.Run(tc.module+"/"+tc.check, func(t *testing.T) {
			orig, err := modules.FS(tc.module)
			if err != nil {
				t.Fatal(err)
			}
			broken := fstest.MapFS{}
			err = fs.WalkDir(orig, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := fs.ReadFile(orig, p)
				if err != nil {
					return err
				}
				if p == tc.file {
					if n := strings.Count(string(b), tc.old); n != 1 {
						t.Fatalf("modules/%s/%s has %q %d times", tc.module, p, tc.old, n)
					}
					b = []byte(strings.Replace(string(b), tc.old, tc.new, 1))
				}
				broken[p] = &fstest.MapFile{Data: b}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := contract.LoadDir(broken, ".", "modules/"+tc.module)
			if err != nil {
				t.Fatal(err)
			}
			rep := contract.Check(m, r, terraformVersions)
			var found bool
			for _, p := range rep.Problems {
				found = found || p.Check == tc.check && strings.Contains(p.Msg, tc.says)
			}
			if !found || len(rep.Problems) == 0 {
				t.Errorf("no %s problem saying %q; problems:", tc.check, tc.says)
				for _, p := range rep.Problems {
					t.Log(p)
				}
			}
		})
	}
}
