package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Options are the inputs to an environment file besides the file itself.
type Options struct {
	// Vars are --var options, name=value, in the order given.
	Vars []string
	// VarFiles are --var-file paths (HCL, or JSON when named *.json).
	VarFiles []string
	// Environ is the process environment (os.Environ()); it feeds
	// GROUNDWORK_VAR_<name> and env(). Nil means an empty environment.
	Environ []string
	// Home replaces the user's home directory for ~ expansion and the
	// default key store path; empty means os.UserHomeDir.
	Home string
	// ConfigDir replaces the user's configuration directory (the default
	// key store lives in <ConfigDir>/groundwork/keys); empty means
	// os.UserConfigDir.
	ConfigDir string
}

// Result is what loading an environment file produced.
type Result struct {
	// Env is the decoded environment; nil when Diags has errors.
	Env *Environment
	// Variables are the resolved variable values, by name.
	Variables map[string]cty.Value
	// Diags are every problem found, errors and warnings.
	Diags hcl.Diagnostics
	// Files are the parsed sources, for rendering Diags with snippets.
	Files map[string]*hcl.File
}

// parser wraps hclparse.Parser to pick the syntax by file name.
type parser struct{ *hclparse.Parser }

func (p *parser) parseFile(path string) (*hcl.File, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read file",
			Detail:   fmt.Sprintf("%s. Check the path (it is relative to the current directory).", err),
		}}
	}
	return p.parseSource(path, src)
}

func (p *parser) parseSource(filename string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if strings.HasSuffix(filename, ".json") {
		return p.ParseJSON(src, filename)
	}
	return p.ParseHCL(src, filename)
}

// Load reads, evaluates and validates the environment file at path.
func Load(path string, opts Options) *Result {
	src, err := os.ReadFile(path)
	if err != nil {
		return &Result{Diags: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read environment file",
			Detail:   fmt.Sprintf("%s. Give the path of an environment file, like environments/local.hcl.", err),
		}}, Files: map[string]*hcl.File{}}
	}
	return Parse(path, src, opts)
}

// Parse is Load for a file already in memory; filename is used in
// diagnostics and as the base for relative paths.
func Parse(filename string, src []byte, opts Options) *Result {
	p := &parser{hclparse.NewParser()}
	res := &Result{}
	defer func() { res.Files = p.Files() }()

	file, diags := p.parseSource(filename, src)
	res.Diags = append(res.Diags, diags...)
	if diags.HasErrors() || file == nil {
		return res
	}

	home := opts.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	configDir := opts.ConfigDir
	if configDir == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			configDir = dir
		} else {
			configDir = filepath.Join(home, ".config")
		}
	}
	baseDir := filepath.Dir(filename)
	if abs, err := filepath.Abs(baseDir); err == nil {
		baseDir = abs
	}
	fns := &hcl.EvalContext{Functions: functions(baseDir, home, opts.Environ)}
	d := &decoder{ctx: fns}

	top := d.content(file.Body, fileSchema)
	if top == nil {
		res.Diags = append(res.Diags, d.diags...)
		return res
	}

	// Variables.
	var decls []*Variable
	byName := map[string]*Variable{}
	for _, b := range top.Blocks.OfType("variable") {
		v := d.decodeVariable(b)
		if prev := byName[v.Name]; prev != nil {
			d.errorf(b.DefRange.Ptr(), "Duplicate variable", "Variable %q is already declared at %s.", v.Name, prev.DeclRange)
			continue
		}
		byName[v.Name] = v
		decls = append(decls, v)
	}
	raw, vdiags := collectValues(p, opts, byName)
	d.diags = append(d.diags, vdiags...)
	values, vdiags := resolveVariables(decls, raw, fns)
	d.diags = append(d.diags, vdiags...)
	res.Variables = values

	// Locals see variables; the environment sees both.
	varCtx := fns.NewChild()
	varCtx.Variables = map[string]cty.Value{"var": objectOf(values, byName)}
	locals, ldiags := decodeLocals(top.Blocks.OfType("locals"), varCtx)
	d.diags = append(d.diags, ldiags...)
	envCtx := varCtx.NewChild()
	envCtx.Variables = map[string]cty.Value{"local": cty.ObjectVal(locals)}

	envs := top.Blocks.OfType("environment")
	switch {
	case len(envs) == 0:
		d.errorf(file.Body.MissingItemRange().Ptr(), "Missing environment block",
			"An environment file must contain one environment block, like:\n\n  environment \"dev\" {\n    cluster \"kind\" {}\n    gitops {\n      repository { url = \"https://github.com/acme/fleet.git\" }\n    }\n  }")
	case len(envs) > 1:
		for _, b := range envs[1:] {
			d.errorf(b.DefRange.Ptr(), "More than one environment block",
				"A file describes exactly one environment; the first is %q at %s. Move this one into a file of its own under environments/.",
				envs[0].Labels[0], envs[0].DefRange)
		}
	}
	var env *Environment
	if len(envs) > 0 {
		ed := &decoder{ctx: envCtx}
		env = ed.decodeEnvironment(envs[0], envPaths{base: baseDir, home: home, config: configDir, kubeconfig: lookupEnv(opts.Environ, "KUBECONFIG")})
		d.diags = append(d.diags, ed.diags...)
		env.File = filename
	}
	res.Diags = append(res.Diags, d.diags...)
	if !res.Diags.HasErrors() {
		res.Env = env
	}
	return res
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "environment", LabelNames: []string{"name"}},
	},
}

// objectOf builds var.* from the resolved values; variables whose value
// failed are unknown, so that later references do not repeat the error.
func objectOf(values map[string]cty.Value, decls map[string]*Variable) cty.Value {
	obj := make(map[string]cty.Value, len(decls))
	for name, v := range decls {
		if val, ok := values[name]; ok {
			obj[name] = val
		} else {
			obj[name] = cty.UnknownVal(v.Type)
		}
	}
	return cty.ObjectVal(obj)
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
