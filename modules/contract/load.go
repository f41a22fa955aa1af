package contract

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
)

// Module is one Terraform module, read from its .tf files.
type Module struct {
	// Name names the module in messages: "modules/eks", or
	// "terraform-aws-modules/eks/aws 20.37.2".
	Name string
	// Config is what terraform-config-inspect reads of the module:
	// variables, outputs, module calls and requirements.
	Config *tfconfig.Module
	// Files are the module's files, parsed, overrides last.
	Files []*hcl.File
	// Calls are the module's module blocks, by name.
	Calls map[string]*Call
	// Providers are its required_providers entries (and provider blocks'
	// legacy version arguments).
	Providers []ProviderReq
	// Core are its required_version constraints.
	Core []Requirement

	// fsys and dir locate the module, for local module calls.
	fsys fs.FS
	dir  string
	// display is the prefix of file names in messages.
	display string
}

// Call is a module block.
type Call struct {
	Name    string
	Source  string
	Version string
	// Args are the arguments passed to the module's variables (the
	// meta-arguments left out).
	Args  map[string]*hclsyntax.Attribute
	Block *hclsyntax.Block
}

// Pos is where the call is, file:line.
func (c *Call) Pos() string { return pos(c.Block.DefRange()) }

// Requirement is a version constraint and where it is written.
type Requirement struct {
	Constraint string
	Range      hcl.Range
}

// ProviderReq is a provider version requirement of a module.
type ProviderReq struct {
	// Source is the provider's address, hostname included
	// (registry.terraform.io/hashicorp/aws).
	Source string
	Requirement
}

// metaArgs are the module block arguments that are not variables.
var metaArgs = map[string]bool{"source": true, "version": true, "count": true, "for_each": true, "providers": true, "depends_on": true}

func pos(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// LoadDir reads the module in folder dir of fsys; display names it in
// messages and prefixes its file names there.
func LoadDir(fsys fs.FS, dir, display string) (*Module, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var primary, override []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		if strings.HasSuffix(n, ".tf.json") {
			return nil, fmt.Errorf("%s: JSON configuration is not read by the contract check", path.Join(display, n))
		}
		if !strings.HasSuffix(n, ".tf") {
			continue
		}
		if base := strings.TrimSuffix(n, ".tf"); base == "override" || strings.HasSuffix(base, "_override") {
			override = append(override, n)
		} else {
			primary = append(primary, n)
		}
	}
	sort.Strings(primary)
	sort.Strings(override)
	files := map[string][]byte{}
	var order []string
	for _, n := range append(primary, override...) {
		b, err := fs.ReadFile(fsys, path.Join(dir, n))
		if err != nil {
			return nil, err
		}
		dn := path.Join(display, n)
		files[dn] = b
		order = append(order, dn)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: no .tf file", display)
	}
	m, err := load(display, order, files)
	if err != nil {
		return nil, err
	}
	m.fsys, m.dir, m.display = fsys, dir, display
	return m, nil
}

// LoadFile reads a module of one file, named filename in messages (a
// rendered root module, say).
func LoadFile(filename string, src []byte) (*Module, error) {
	return load(filename, []string{filename}, map[string][]byte{filename: src})
}

func load(name string, order []string, files map[string][]byte) (*Module, error) {
	m := &Module{Name: name, Config: tfconfig.NewModule(name), Calls: map[string]*Call{}}
	var diags hcl.Diagnostics
	for _, fn := range order {
		f, d := hclsyntax.ParseConfig(files[fn], fn, hcl.InitialPos)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if base := strings.TrimSuffix(path.Base(fn), ".tf"); base == "override" || strings.HasSuffix(base, "_override") {
			for _, b := range f.Body.(*hclsyntax.Body).Blocks {
				switch b.Type {
				case "resource", "data", "locals", "provider":
				default:
					return nil, fmt.Errorf("%s: the override file overrides a %s block, which the contract check does not merge", pos(b.DefRange()), b.Type)
				}
			}
		}
		diags = append(diags, tfconfig.LoadModuleFromFile(f, m.Config)...)
		m.Files = append(m.Files, f)
		diags = append(diags, m.readBlocks(f)...)
	}
	diags = append(diags, m.readProviderBlocks()...)
	if diags.HasErrors() {
		return nil, diags
	}
	return m, nil
}

// readBlocks reads the module calls and version requirements of a file.
func (m *Module) readBlocks(f *hcl.File) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		switch b.Type {
		case "module":
			if len(b.Labels) != 1 {
				continue
			}
			c := &Call{Name: b.Labels[0], Args: map[string]*hclsyntax.Attribute{}, Block: b}
			for name, a := range b.Body.Attributes {
				switch {
				case name == "source":
					diags = append(diags, stringAttr(a, &c.Source)...)
				case name == "version":
					diags = append(diags, stringAttr(a, &c.Version)...)
				case !metaArgs[name]:
					c.Args[name] = a
				}
			}
			m.Calls[c.Name] = c
		case "terraform":
			for name, a := range b.Body.Attributes {
				if name == "required_version" {
					var s string
					diags = append(diags, stringAttr(a, &s)...)
					m.Core = append(m.Core, Requirement{Constraint: s, Range: a.SrcRange})
				}
			}
			for _, rp := range b.Body.Blocks {
				if rp.Type != "required_providers" {
					continue
				}
				for local, a := range rp.Body.Attributes {
					req, d := providerReq(local, a)
					diags = append(diags, d...)
					if req != nil {
						m.Providers = append(m.Providers, *req)
					}
				}
			}
		}
	}
	return diags
}

// readProviderBlocks reads the legacy version arguments of provider blocks:
// before required_providers, a provider block could take a constraint.
func (m *Module) readProviderBlocks() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range m.Files {
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if a, ok := b.Body.Attributes["version"]; ok && b.Type == "provider" && len(b.Labels) == 1 {
				var s string
				diags = append(diags, stringAttr(a, &s)...)
				m.Providers = append(m.Providers, ProviderReq{Source: m.providerSource(b.Labels[0]), Requirement: Requirement{s, a.SrcRange}})
			}
		}
	}
	return diags
}

// providerSource is the address of the provider the module names local.
func (m *Module) providerSource(local string) string {
	for _, f := range m.Files {
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "terraform" {
				continue
			}
			for _, rp := range b.Body.Blocks {
				if a, ok := rp.Body.Attributes[local]; ok && rp.Type == "required_providers" {
					if req, _ := providerReq(local, a); req != nil {
						return req.Source
					}
				}
			}
		}
	}
	return NormalizeProvider("", local)
}

// providerReq reads a required_providers entry: an object of source and
// version, or (before Terraform 0.13) a version string.
func providerReq(local string, a *hclsyntax.Attribute) (*ProviderReq, hcl.Diagnostics) {
	if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
		var source, constraint string
		var diags hcl.Diagnostics
		for _, item := range obj.Items {
			key := hcl.ExprAsKeyword(item.KeyExpr)
			if key == "" {
				if v, d := item.KeyExpr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
					key = v.AsString()
				}
			}
			switch key {
			case "source":
				diags = append(diags, stringExpr(item.ValueExpr, &source)...)
			case "version":
				diags = append(diags, stringExpr(item.ValueExpr, &constraint)...)
			}
		}
		return &ProviderReq{Source: NormalizeProvider(source, local), Requirement: Requirement{constraint, a.SrcRange}}, diags
	}
	var constraint string
	diags := stringAttr(a, &constraint)
	return &ProviderReq{Source: NormalizeProvider("", local), Requirement: Requirement{constraint, a.SrcRange}}, diags
}

// NormalizeProvider returns the full address of a provider source, as
// Terraform reads it: the default hostname and namespace filled in, lower
// case.
func NormalizeProvider(source, local string) string {
	if source == "" {
		source = "hashicorp/" + local
	}
	source = strings.ToLower(source)
	switch strings.Count(source, "/") {
	case 0:
		return "registry.terraform.io/hashicorp/" + source
	case 1:
		return "registry.terraform.io/" + source
	}
	return source
}

func stringAttr(a *hclsyntax.Attribute, out *string) hcl.Diagnostics {
	return stringExpr(a.Expr, out)
}

func stringExpr(e hclsyntax.Expression, out *string) hcl.Diagnostics {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if v.Type() != cty.String || v.IsNull() || !v.IsKnown() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a string", Detail: "A string literal is expected here.", Subject: e.Range().Ptr()}}
	}
	*out = v.AsString()
	return nil
}

// IsLocal says whether a module source is a local path.
func IsLocal(source string) bool {
	return strings.HasPrefix(source, "./") || strings.HasPrefix(source, "../")
}

// IsRegistry says whether a module source is a registry address
// ([hostname/]namespace/name/provider[//subdir]).
func IsRegistry(source string) bool {
	addr, _, _ := strings.Cut(source, "//")
	if IsLocal(source) || strings.Contains(addr, "::") || strings.Contains(addr, ":") {
		return false
	}
	parts := strings.Split(addr, "/")
	if parts[0] == "github.com" || parts[0] == "bitbucket.org" {
		return false // shorthands for git sources
	}
	return len(parts) == 3 || len(parts) == 4 && strings.Contains(parts[0], ".")
}
