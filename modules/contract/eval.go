package contract

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// ParseType parses a variable's type constraint as terraform-config-inspect
// gives it (its source text); "" is any type.
func ParseType(src string) (cty.Type, *typeexpr.Defaults, error) {
	if strings.TrimSpace(src) == "" {
		return cty.DynamicPseudoType, nil, nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(src), "type", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilType, nil, diags
	}
	ty, defs, diags := typeexpr.TypeConstraintWithDefaults(expr)
	if diags.HasErrors() {
		return cty.NilType, nil, diags
	}
	return ty, defs, nil
}

// TypeString is a type in Terraform's type constraint syntax.
func TypeString(ty cty.Type) string {
	if ty == cty.DynamicPseudoType {
		return "any"
	}
	return typeexpr.TypeString(ty)
}

// sample is a value of type ty whose shape is known (two keys in a map,
// two elements in a list or set, every attribute of an object, optional
// ones too) and whose leaves are unknown, so that evaluating an expression
// over it gives the expression's type, down to object attributes.
func sample(ty cty.Type) cty.Value {
	switch {
	case ty == cty.DynamicPseudoType:
		return cty.DynamicVal
	case ty.IsPrimitiveType():
		return cty.UnknownVal(ty)
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		if len(atys) == 0 {
			return cty.EmptyObjectVal
		}
		vals := make(map[string]cty.Value, len(atys))
		for name, aty := range atys {
			vals[name] = sample(aty)
		}
		return cty.ObjectVal(vals)
	case ty.IsTupleType():
		etys := ty.TupleElementTypes()
		if len(etys) == 0 {
			return cty.EmptyTupleVal
		}
		vals := make([]cty.Value, len(etys))
		for i, ety := range etys {
			vals[i] = sample(ety)
		}
		return cty.TupleVal(vals)
	case ty.IsMapType() || ty.IsListType() || ty.IsSetType():
		concrete := ty.WithoutOptionalAttributesDeep()
		if concrete.ElementType().HasDynamicTypes() {
			// Elements of any type are all of one type, unknown here.
			return cty.UnknownVal(concrete)
		}
		a, b := sample(ty.ElementType()), sample(ty.ElementType())
		switch {
		case ty.IsMapType():
			return cty.MapVal(map[string]cty.Value{"sample-a": a, "sample-b": b})
		case ty.IsListType():
			return cty.ListVal([]cty.Value{a, b})
		}
		return cty.SetVal([]cty.Value{a})
	}
	return cty.UnknownVal(ty)
}

// evalContext is what a module's expressions are evaluated in: its
// variables as samples of their types, its locals evaluated over them, the
// functions it calls (Terraform's own where cty has them, stand-ins giving
// an unknown value of the result type or of any type otherwise), and
// anything else it refers to (resources, data sources, module outputs,
// count, each, path) unknown of any type.
func (m *Module) evalContext() (*hcl.EvalContext, []Problem) {
	var problems []Problem
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{}}
	for _, f := range m.Files {
		_ = hclsyntax.VisitAll(f.Body.(*hclsyntax.Body), func(n hclsyntax.Node) hcl.Diagnostics {
			switch e := n.(type) {
			case *hclsyntax.ScopeTraversalExpr:
				ctx.Variables[e.Traversal.RootName()] = cty.DynamicVal
			case *hclsyntax.FunctionCallExpr:
				ctx.Functions[e.Name] = function.Function{}
			}
			return nil
		})
	}
	for name := range ctx.Functions {
		ctx.Functions[name] = terraformFunction(name)
	}
	vars := map[string]cty.Value{}
	for name, v := range m.Config.Variables {
		ty, _, err := ParseType(v.Type)
		if err != nil {
			problems = append(problems, Problem{Pos: fmt.Sprintf("%s:%d", v.Pos.Filename, v.Pos.Line), Module: m.Name, Check: "type",
				Msg: fmt.Sprintf("variable %q: type %s does not parse: %v", name, v.Type, err), Fix: "write a valid type constraint"})
			ty = cty.DynamicPseudoType
		}
		vars[name] = sample(ty)
	}
	ctx.Variables["var"] = cty.ObjectVal(vars)

	// Locals refer to each other: evaluate them all as many times as there
	// are locals, each pass over the values of the one before, so that a
	// chain of any length settles.
	locals := map[string]*hclsyntax.Attribute{}
	for _, f := range m.Files {
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "locals" {
				for name, a := range b.Body.Attributes {
					locals[name] = a
				}
			}
		}
	}
	values := map[string]cty.Value{}
	for name := range locals {
		values[name] = cty.DynamicVal
	}
	names := make([]string, 0, len(locals))
	for name := range locals {
		names = append(names, name)
	}
	sort.Strings(names)
	var last hcl.Diagnostics
	for range len(locals) + 1 {
		ctx.Variables["local"] = cty.ObjectVal(values)
		next := map[string]cty.Value{}
		last = nil
		for _, name := range names {
			v, diags := locals[name].Expr.Value(ctx)
			last = append(last, diags...)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			next[name] = v
		}
		values = next
	}
	if len(values) == 0 {
		ctx.Variables["local"] = cty.EmptyObjectVal
	} else {
		ctx.Variables["local"] = cty.ObjectVal(values)
	}
	for _, d := range last {
		if d.Severity == hcl.DiagError {
			problems = append(problems, exprProblem(m, d))
		}
	}
	return ctx, problems
}

func exprProblem(m *Module, d *hcl.Diagnostic) Problem {
	p := Problem{Module: m.Name, Check: "expression", Msg: d.Summary + ": " + d.Detail,
		Fix: "the expression does not evaluate over the declared types of the variables it reads; correct it (terraform validate would reject it too)"}
	if d.Subject != nil {
		p.Pos = pos(*d.Subject)
	}
	return p
}

// typedStubs are Terraform functions whose result type is fixed.
var typedStubs = map[string]cty.Type{
	"tostring": cty.String, "tonumber": cty.Number, "tobool": cty.Bool,
	"cidrsubnet": cty.String, "cidrhost": cty.String, "cidrnetmask": cty.String, "cidrsubnets": cty.List(cty.String),
	"base64encode": cty.String, "base64decode": cty.String, "base64gzip": cty.String, "base64sha256": cty.String,
	"md5": cty.String, "sha1": cty.String, "sha256": cty.String, "sha512": cty.String, "uuid": cty.String,
	"file": cty.String, "templatefile": cty.String, "timestamp": cty.String, "urlencode": cty.String,
	"yamlencode": cty.String, "abspath": cty.String, "basename": cty.String, "dirname": cty.String,
	"fileexists": cty.Bool, "startswith": cty.Bool, "endswith": cty.Bool, "strcontains": cty.Bool,
	"alltrue": cty.Bool, "anytrue": cty.Bool, "sum": cty.Number,
}

// terraformFunction is the Terraform function name: cty's implementation
// where Terraform uses it, else a stand-in.
func terraformFunction(name string) function.Function {
	switch name {
	case "abs":
		return stdlib.AbsoluteFunc
	case "ceil":
		return stdlib.CeilFunc
	case "floor":
		return stdlib.FloorFunc
	case "max":
		return stdlib.MaxFunc
	case "min":
		return stdlib.MinFunc
	case "chomp":
		return stdlib.ChompFunc
	case "chunklist":
		return stdlib.ChunklistFunc
	case "coalesce":
		return stdlib.CoalesceFunc
	case "coalescelist":
		return stdlib.CoalesceListFunc
	case "compact":
		return stdlib.CompactFunc
	case "concat":
		return stdlib.ConcatFunc
	case "contains":
		return stdlib.ContainsFunc
	case "distinct":
		return stdlib.DistinctFunc
	case "element":
		return stdlib.ElementFunc
	case "flatten":
		return stdlib.FlattenFunc
	case "format":
		return stdlib.FormatFunc
	case "formatlist":
		return stdlib.FormatListFunc
	case "indent":
		return stdlib.IndentFunc
	case "join":
		return stdlib.JoinFunc
	case "jsonencode":
		return stdlib.JSONEncodeFunc
	case "keys":
		return stdlib.KeysFunc
	case "lookup":
		return stdlib.LookupFunc
	case "lower":
		return stdlib.LowerFunc
	case "merge":
		return stdlib.MergeFunc
	case "range":
		return stdlib.RangeFunc
	case "regex":
		return stdlib.RegexFunc
	case "regexall":
		return stdlib.RegexAllFunc
	case "reverse":
		return stdlib.ReverseListFunc
	case "setintersection":
		return stdlib.SetIntersectionFunc
	case "setproduct":
		return stdlib.SetProductFunc
	case "setsubtract":
		return stdlib.SetSubtractFunc
	case "setunion":
		return stdlib.SetUnionFunc
	case "slice":
		return stdlib.SliceFunc
	case "sort":
		return stdlib.SortFunc
	case "split":
		return stdlib.SplitFunc
	case "strrev":
		return stdlib.ReverseFunc
	case "substr":
		return stdlib.SubstrFunc
	case "title":
		return stdlib.TitleFunc
	case "trim":
		return stdlib.TrimFunc
	case "trimprefix":
		return stdlib.TrimPrefixFunc
	case "trimspace":
		return stdlib.TrimSpaceFunc
	case "trimsuffix":
		return stdlib.TrimSuffixFunc
	case "upper":
		return stdlib.UpperFunc
	case "values":
		return stdlib.ValuesFunc
	case "zipmap":
		return stdlib.ZipmapFunc
	case "try":
		return tryfunc.TryFunc
	case "can":
		return tryfunc.CanFunc
	case "length":
		return lengthFunc
	case "replace":
		return replaceFunc
	}
	ty, ok := typedStubs[name]
	if !ok {
		ty = cty.DynamicPseudoType
	}
	return stub(ty)
}

// stub stands in for a function: any arguments, an unknown result of ty.
func stub(ty cty.Type) function.Function {
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true, AllowMarked: true},
		Type:     function.StaticReturnType(ty),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.UnknownVal(ty), nil
		},
	})
}

// lengthFunc is Terraform's length: of a collection, or of a string.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		if !args[0].IsKnown() || !args[0].CanIterateElements() {
			return cty.UnknownVal(cty.Number), nil
		}
		return args[0].Length(), nil
	},
})

// replaceFunc is Terraform's replace: a /regular expression/ or a plain
// substring.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "str", Type: cty.String, AllowUnknown: true},
		{Name: "substr", Type: cty.String, AllowUnknown: true},
		{Name: "replace", Type: cty.String, AllowUnknown: true},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for _, a := range args {
			if !a.IsKnown() {
				return cty.UnknownVal(cty.String), nil
			}
		}
		if s := args[1].AsString(); len(s) > 1 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
			return stdlib.RegexReplace(args[0], cty.StringVal(s[1:len(s)-1]), args[2])
		}
		return cty.StringVal(strings.ReplaceAll(args[0].AsString(), args[1].AsString(), args[2].AsString())), nil
	},
})
