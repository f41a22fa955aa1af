package spec

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix is the prefix of environment variables that set spec
// variables: GROUNDWORK_VAR_region=eu-west-1 sets var.region.
const EnvVarPrefix = "GROUNDWORK_VAR_"

// Variable is a declared input of the environment file.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type
	defaults    *typeexpr.Defaults
	Default     cty.Value // cty.NilVal when the variable is required
	Sensitive   bool
	Validations []validation
	// badDefault is set when the default was reported invalid, so that the
	// variable is not reported as missing a value too.
	badDefault bool
	DeclRange  hcl.Range
}

type validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// decodeVariable reads a variable block. Its attributes are evaluated
// without variables: a default must be a constant.
func (d *decoder) decodeVariable(block *hcl.Block) *Variable {
	v := &Variable{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	if !hclsyntax.ValidIdentifier(v.Name) {
		d.errorf(block.LabelRanges[0].Ptr(), "Invalid variable name",
			"%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter.", v.Name)
	}
	c := d.content(block.Body, variableSchema)
	if c == nil {
		return v
	}
	constant := &decoder{ctx: &hcl.EvalContext{Functions: d.ctx.Functions}}
	if attr, ok := c.Attributes["type"]; ok {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			v.Type, v.defaults = ty, defaults
		}
	}
	constant.str(c.Attributes, "description", &v.Description)
	constant.boolean(c.Attributes, "sensitive", &v.Sensitive)
	if attr, ok := c.Attributes["default"]; ok {
		val, diags := attr.Expr.Value(constant.ctx)
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			if v.defaults != nil {
				val = v.defaults.Apply(val)
			}
			cv, err := convert.Convert(val, v.Type)
			if err != nil {
				d.errorf(attr.Expr.Range().Ptr(), "Invalid default value for variable",
					"The default does not match the variable's type %s: %s.", typeexpr.TypeString(v.Type), err)
				v.badDefault = true
			} else {
				v.Default = cv
			}
		}
	}
	d.diags = append(d.diags, constant.diags...)
	for _, vb := range c.Blocks {
		vc := d.content(vb.Body, validationSchema)
		if vc == nil || vc.Attributes["condition"] == nil || vc.Attributes["error_message"] == nil {
			continue
		}
		cond := vc.Attributes["condition"].Expr
		for _, ref := range cond.Variables() {
			if ref.RootName() != "var" || len(ref) < 2 || attrName(ref[1]) != v.Name {
				d.errorf(ref.SourceRange().Ptr(), "Invalid reference in variable validation",
					"A validation condition may refer only to the variable itself, var.%s.", v.Name)
			}
		}
		v.Validations = append(v.Validations, validation{Condition: cond, ErrorMessage: vc.Attributes["error_message"].Expr, DeclRange: vb.DefRange})
	}
	return v
}

func attrName(t hcl.Traverser) string {
	if a, ok := t.(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// rawValue is a variable value given outside the file, not yet converted.
type rawValue struct {
	source string // "--var", "--var-file x.hcl", "GROUNDWORK_VAR_x"
	// Either text (from --var and the environment, parsed per the declared
	// type) or expr (from a var file) is set.
	text string
	expr hcl.Expression
	rng  *hcl.Range
}

// collectValues gathers values from the environment, var files and --var
// options, later sources overriding earlier ones.
func collectValues(p *parser, opts Options, declared map[string]*Variable) (map[string]rawValue, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]rawValue{}
	for _, kv := range opts.Environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvVarPrefix)
		if declared[name] == nil {
			continue // like Terraform: the environment may carry variables for other files
		}
		vals[name] = rawValue{source: EnvVarPrefix + name, text: value}
	}
	for _, path := range opts.VarFiles {
		f, fdiags := p.parseFile(path)
		diags = append(diags, fdiags...)
		if f == nil {
			continue
		}
		as, adiags := f.Body.JustAttributes()
		diags = append(diags, adiags...)
		for name, attr := range as {
			if declared[name] == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("The var file sets %q, but the environment file declares no variable of that name; the value is ignored.%s", name, didYouMean(name, sortedKeys(declared))),
					Subject:  attr.NameRange.Ptr(),
				})
				continue
			}
			vals[name] = rawValue{source: "var file " + path, expr: attr.Expr, rng: attr.Expr.Range().Ptr()}
		}
	}
	for _, kv := range opts.Vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid --var option",
				Detail:   fmt.Sprintf("%q is not of the form name=value; write --var region=eu-west-1.", kv),
			})
			continue
		}
		if declared[name] == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("--var sets %q, but the environment file declares no variable of that name.%s Declare it with a variable %q block, or remove the option.", name, didYouMean(name, sortedKeys(declared)), name),
			})
			continue
		}
		vals[name] = rawValue{source: "--var " + name, text: value}
	}
	return vals, diags
}

// resolveVariables computes the final value of every declared variable and
// runs their validation blocks.
func resolveVariables(decls []*Variable, vals map[string]rawValue, fns *hcl.EvalContext) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make(map[string]cty.Value, len(decls))
	for _, v := range decls {
		raw, given := vals[v.Name]
		var val cty.Value
		switch {
		case given && raw.expr != nil:
			ev, ediags := raw.expr.Value(nil)
			diags = append(diags, ediags...)
			if ediags.HasErrors() {
				continue
			}
			val = ev
		case given:
			ev, ediags := parseText(v, raw)
			diags = append(diags, ediags...)
			if ediags.HasErrors() {
				continue
			}
			val = ev
		case v.Default != cty.NilVal:
			val = v.Default
		case v.badDefault:
			continue
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("Variable %q has no default and no value was given. Set it with --var %s=..., in a --var-file, or with the environment variable %s%s.",
					v.Name, v.Name, EnvVarPrefix, v.Name),
				Subject: v.DeclRange.Ptr(),
			})
			continue
		}
		if v.defaults != nil {
			val = v.defaults.Apply(val)
		}
		cv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value from %s is not valid for variable %q of type %s: %s.", raw.source, v.Name, typeexpr.TypeString(v.Type), err),
				Subject:  rangeOr(raw.rng, v.DeclRange),
			})
			continue
		}
		if v.Sensitive {
			cv = cv.Mark(sensitiveMark)
		}
		diags = append(diags, v.validate(cv, raw, fns)...)
		out[v.Name] = cv
	}
	return out, diags
}

// sensitiveMark marks values of sensitive variables; groundwork never prints
// them.
const sensitiveMark = "sensitive"

func (v *Variable) validate(val cty.Value, raw rawValue, fns *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := fns.NewChild()
	ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})}
	for _, rule := range v.Validations {
		res, rdiags := rule.Condition.Value(ctx)
		diags = append(diags, rdiags...)
		if rdiags.HasErrors() {
			continue
		}
		res, _ = res.Unmark()
		if res.IsNull() || res.Type() != cty.Bool {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "A validation condition must evaluate to true or false.",
				Subject:  rule.Condition.Range().Ptr(),
			})
			continue
		}
		if res.True() {
			continue
		}
		msg, mdiags := rule.ErrorMessage.Value(ctx)
		text := "the validation condition is false"
		if !mdiags.HasErrors() {
			if m, err := convert.Convert(msg, cty.String); err == nil && !m.IsNull() {
				m, _ = m.Unmark()
				text = m.AsString()
			}
		}
		from := "its default"
		if raw.source != "" {
			from = raw.source
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("%s (variable %q, value from %s; rule at %s).", strings.TrimSuffix(text, "."), v.Name, from, rule.DeclRange),
			Subject:  rangeOr(raw.rng, rule.Condition.Range()),
		})
	}
	return diags
}

// parseText turns a --var or environment value into a cty value: verbatim
// for string variables, as an HCL expression otherwise (lists, maps,
// numbers).
func parseText(v *Variable, raw rawValue) (cty.Value, hcl.Diagnostics) {
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
		return cty.StringVal(raw.text), nil
	}
	invalid := hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail: fmt.Sprintf("The value from %s is not a valid %s: write it as an HCL literal, like %s.",
			raw.source, typeexpr.TypeString(v.Type), example(v.Type)),
	}}
	expr, diags := hclsyntax.ParseExpression([]byte(raw.text), raw.source, hcl.InitialPos)
	if diags.HasErrors() || len(expr.Variables()) > 0 {
		return cty.NilVal, invalid
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, invalid
	}
	return val, nil
}

func example(ty cty.Type) string {
	switch {
	case ty == cty.Number:
		return "3"
	case ty == cty.Bool:
		return "true"
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		return `["a","b"]`
	default:
		return `{ key = "value" }`
	}
}

func rangeOr(r *hcl.Range, fallback hcl.Range) *hcl.Range {
	if r != nil {
		return r
	}
	return fallback.Ptr()
}

// decodeLocals evaluates locals blocks, in dependency order.
func decodeLocals(blocks hcl.Blocks, ctx *hcl.EvalContext) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		as, adiags := b.Body.JustAttributes()
		diags = append(diags, adiags...)
		for name, a := range as {
			if prev, dup := pending[name]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("local.%s is already defined at %s.", name, prev.NameRange),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			pending[name] = a
		}
	}
	locals := map[string]cty.Value{}
	for len(pending) > 0 {
		progressed := false
		for _, name := range sortedKeys(pending) {
			a := pending[name]
			ready := true
			for _, ref := range a.Expr.Variables() {
				if ref.RootName() == "local" && len(ref) > 1 {
					if _, done := locals[attrName(ref[1])]; !done {
						if _, known := pending[attrName(ref[1])]; known {
							ready = false
						}
					}
				}
			}
			if !ready {
				continue
			}
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{"local": cty.ObjectVal(locals)}
			v, vdiags := a.Expr.Value(child)
			diags = append(diags, vdiags...)
			if vdiags.HasErrors() {
				v = cty.DynamicVal
			}
			locals[name] = v
			delete(pending, name)
			progressed = true
		}
		if !progressed {
			for _, name := range sortedKeys(pending) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cycle in local values",
					Detail:   fmt.Sprintf("local.%s depends on itself through other locals; break the cycle.", name),
					Subject:  pending[name].NameRange.Ptr(),
				})
			}
			break
		}
	}
	return locals, diags
}

// expandPath resolves ~ and makes a path relative to the spec's directory
// absolute.
func expandPath(p, baseDir, home string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p)
}
