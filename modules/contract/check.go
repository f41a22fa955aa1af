package contract

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Problem is a break of the contract between a module and one it calls.
type Problem struct {
	// Pos is file:line in the module checked.
	Pos string
	// Module is the module the problem is with: the called module, or the
	// module whose requirement is at Pos.
	Module string
	// Check names the check that found it: source, argument, required,
	// type, output, expression, provider, terraform, interface.
	Check string
	Msg   string
	// Fix says how to fix it.
	Fix string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Pos)
	b.WriteString(": ")
	if p.Module != "" {
		b.WriteString("[" + p.Module + "] ")
	}
	b.WriteString(p.Msg)
	b.WriteString(" (check: " + p.Check + ")")
	if p.Fix != "" {
		b.WriteString("\n\tfix: " + p.Fix)
	}
	return b.String()
}

// Report is what a check found: problems, and notes on what it could not
// check.
type Report struct {
	Problems []Problem
	Notes    []string
}

func (r *Report) add(o Report) {
	r.Problems = append(r.Problems, o.Problems...)
	r.Notes = append(r.Notes, o.Notes...)
}

// Resolver finds the modules that module calls name.
type Resolver struct {
	// Source holds the registry modules.
	Source Source
	// Local, when set, resolves the local source of a call in m; when nil
	// a local source is a folder in m's own file system.
	Local func(m *Module, source string) (*Module, error)

	cache map[string]*Module
}

var exactVersion = regexp.MustCompile(`^=?\s*v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// Resolve loads the module call c of m names.
func (r *Resolver) Resolve(m *Module, c *Call) (*Module, error) {
	if r.cache == nil {
		r.cache = map[string]*Module{}
	}
	switch {
	case IsLocal(c.Source):
		if r.Local != nil {
			return r.Local(m, c.Source)
		}
		if m.fsys == nil {
			return nil, fmt.Errorf("local source %q: %s is not read from a folder", c.Source, m.Name)
		}
		dir := path.Join(m.dir, c.Source)
		if dir == ".." || strings.HasPrefix(dir, "../") {
			return nil, fmt.Errorf("local source %q leaves the module's tree", c.Source)
		}
		display := path.Join(m.display, c.Source)
		if child, ok := r.cache[display]; ok {
			return child, nil
		}
		child, err := LoadDir(m.fsys, dir, display)
		if err != nil {
			return nil, err
		}
		r.cache[display] = child
		return child, nil
	case IsRegistry(c.Source):
		if !exactVersion.MatchString(strings.TrimSpace(c.Version)) {
			return nil, fmt.Errorf("registry module %s is at version %q, not one exact version, so which release to check against is not known", c.Source, c.Version)
		}
		if r.Source == nil {
			return nil, fmt.Errorf("registry module %s %s: no source of registry modules", c.Source, c.Version)
		}
		addr, sub, _ := strings.Cut(c.Source, "//")
		v := strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.Version), "=")), "v")
		display := NormalizeAddress(addr) + "@" + v
		dir := "."
		if sub != "" {
			dir = path.Clean(sub)
			display = path.Join(display, dir)
		}
		if child, ok := r.cache[display]; ok {
			return child, nil
		}
		fsys, _, err := r.Source.Open(addr, v)
		if err != nil {
			return nil, err
		}
		child, err := LoadDir(fsys, dir, display)
		if err != nil {
			return nil, err
		}
		r.cache[display] = child
		return child, nil
	}
	return nil, fmt.Errorf("source %q is neither a local path nor a registry address, so the contract check cannot read it", c.Source)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest is ", did you mean X?" for the name in names closest to name.
func suggest(name string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := levenshtein.Distance(name, n, nil); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" || bestD > max(2, len(name)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// Check runs CheckCalls over m and CheckTree over the tree of modules
// under it.
func Check(m *Module, r *Resolver, terraform []string) Report {
	var rep Report
	rep.add(CheckCalls(m, r))
	rep.add(CheckTree(m, r, terraform))
	return rep
}

// CheckCalls checks m's calls of other modules: every module is found,
// every argument is a variable of it, every required variable is set,
// every argument's type converts to the variable's type constraint (an
// object attribute the constraint does not declare, which Terraform would
// drop without a word, counts as a problem), and every module.NAME.OUTPUT
// m reads is an output of module NAME.
func CheckCalls(m *Module, r *Resolver) Report {
	var rep Report
	ctx, problems := m.evalContext()
	rep.Problems = append(rep.Problems, problems...)
	children := map[string]*Module{}
	for _, name := range sortedKeys(m.Calls) {
		c := m.Calls[name]
		child, err := r.Resolve(m, c)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Pos: c.Pos(), Module: strings.TrimSpace(c.Source + " " + c.Version), Check: "source",
				Msg: fmt.Sprintf("module %q: %v", name, err),
				Fix: "pin the module to one exact version whose archive is in contract.Pinned (and in the terraform-modules folder), or point GROUNDWORK_TERRAFORM_MODULES at a working directory terraform init has fetched it into"})
			continue
		}
		children[name] = child
		rep.Problems = append(rep.Problems, checkArgs(c, child, ctx)...)
	}
	rep.add(checkReferences(m, children))
	return rep
}

func checkArgs(c *Call, child *Module, ctx *hcl.EvalContext) []Problem {
	var out []Problem
	vars := sortedKeys(child.Config.Variables)
	for _, arg := range sortedKeys(c.Args) {
		a := c.Args[arg]
		v, ok := child.Config.Variables[arg]
		if !ok {
			out = append(out, Problem{Pos: pos(a.NameRange), Module: child.Name, Check: "argument",
				Msg: fmt.Sprintf("module %q passes %q, which is not a variable of %s%s", c.Name, arg, child.Name, suggest(arg, vars)),
				Fix: "rename the argument to a variable the pinned version declares, or remove it"})
			continue
		}
		want, _, err := ParseType(v.Type)
		if err != nil {
			out = append(out, Problem{Pos: pos(a.NameRange), Module: child.Name, Check: "type",
				Msg: fmt.Sprintf("variable %q (%s:%d) has a type constraint the check cannot read: %v", arg, v.Pos.Filename, v.Pos.Line, err)})
			continue
		}
		val, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					out = append(out, exprProblem(&Module{Name: child.Name}, d))
				}
			}
			continue
		}
		if val.IsNull() {
			if !child.nullable(arg) {
				out = append(out, Problem{Pos: pos(a.NameRange), Module: child.Name, Check: "type",
					Msg: fmt.Sprintf("module %q passes null to %q, which is not nullable (%s:%d)", c.Name, arg, v.Pos.Filename, v.Pos.Line),
					Fix: "pass a value, or leave the argument out for the variable's default"})
			}
			continue
		}
		msgs := compat(val.Type(), want, arg)
		if len(msgs) == 0 {
			// The types convert; a value known here must convert too (a
			// string literal to a number, say).
			if _, err := convert.Convert(val, want); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s does not convert: %v", arg, err))
			}
		}
		for _, msg := range msgs {
			out = append(out, Problem{Pos: pos(a.NameRange), Module: child.Name, Check: "type",
				Msg: fmt.Sprintf("module %q: %s (variable %q is %s at %s:%d)", c.Name, msg, arg, TypeString(want), v.Pos.Filename, v.Pos.Line),
				Fix: "pass a value of the variable's type: every attribute one its type declares, every required attribute present"})
		}
	}
	for _, name := range vars {
		v := child.Config.Variables[name]
		if _, ok := c.Args[name]; v.Required && !ok {
			out = append(out, Problem{Pos: c.Pos(), Module: child.Name, Check: "required",
				Msg: fmt.Sprintf("module %q does not set %q, a required variable of %s (%s:%d)", c.Name, name, child.Name, v.Pos.Filename, v.Pos.Line),
				Fix: fmt.Sprintf("set %s in the module block", name)})
		}
	}
	return out
}

// checkReferences checks every module.NAME.OUTPUT in m's expressions.
func checkReferences(m *Module, children map[string]*Module) Report {
	var rep Report
	for _, f := range m.Files {
		_ = hclsyntax.VisitAll(f.Body.(*hclsyntax.Body), func(n hclsyntax.Node) hcl.Diagnostics {
			e, ok := n.(*hclsyntax.ScopeTraversalExpr)
			if !ok || e.Traversal.RootName() != "module" {
				return nil
			}
			tr := e.Traversal
			if len(tr) < 2 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: refers to all of module, whose outputs are not checked", pos(e.SrcRange)))
				return nil
			}
			step, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				return nil
			}
			c, ok := m.Calls[step.Name]
			if !ok {
				rep.Problems = append(rep.Problems, Problem{Pos: pos(e.SrcRange), Check: "output",
					Msg: fmt.Sprintf("refers to module.%s, which %s has no module block for%s", step.Name, m.Name, suggest(step.Name, sortedKeys(m.Calls))),
					Fix: "refer to a module block of this module"})
				return nil
			}
			child := children[c.Name]
			if child == nil {
				return nil // reported as a source problem
			}
			i := 2
			for i < len(tr) {
				if _, ok := tr[i].(hcl.TraverseIndex); !ok {
					break
				}
				i++ // an instance of a module with count or for_each
			}
			if i >= len(tr) {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: refers to all of module.%s, whose outputs are not checked one by one", pos(e.SrcRange), c.Name))
				return nil
			}
			out, ok := tr[i].(hcl.TraverseAttr)
			if !ok {
				return nil
			}
			if _, ok := child.Config.Outputs[out.Name]; !ok {
				rep.Problems = append(rep.Problems, Problem{Pos: pos(e.SrcRange), Module: child.Name, Check: "output",
					Msg: fmt.Sprintf("reads module.%s.%s, but %s has no output %q%s", c.Name, out.Name, child.Name, out.Name, suggest(out.Name, sortedKeys(child.Config.Outputs))),
					Fix: "read an output the pinned version declares"})
			}
			return nil
		})
	}
	return rep
}

// compat says how a value of type got fails to convert to a variable of
// type want the way Terraform converts module arguments, path naming the
// value. Any type on either side passes; an object attribute that want
// does not declare is a failure, though Terraform would drop it silently,
// since it is a misspelled or removed input all the same.
func compat(got, want cty.Type, path string) []string {
	if want == cty.DynamicPseudoType || got == cty.DynamicPseudoType {
		return nil
	}
	var out []string
	switch {
	case want.IsObjectType() && got.IsObjectType():
		for _, name := range sortedKeys(got.AttributeTypes()) {
			if !want.HasAttribute(name) {
				out = append(out, fmt.Sprintf("%s has attribute %q, which the type does not declare%s (Terraform would drop it)", path, name, suggest(name, sortedKeys(want.AttributeTypes()))))
				continue
			}
			out = append(out, compat(got.AttributeType(name), want.AttributeType(name), path+"."+name)...)
		}
		for _, name := range sortedKeys(want.AttributeTypes()) {
			if !got.HasAttribute(name) && !want.AttributeOptional(name) {
				out = append(out, fmt.Sprintf("%s lacks attribute %q (%s), which the type requires", path, name, TypeString(want.AttributeType(name))))
			}
		}
	case want.IsObjectType() && got.IsMapType():
		for _, name := range sortedKeys(want.AttributeTypes()) {
			out = append(out, compat(got.ElementType(), want.AttributeType(name), path+"."+name)...)
		}
	case want.IsMapType() && got.IsObjectType():
		for _, name := range sortedKeys(got.AttributeTypes()) {
			out = append(out, compat(got.AttributeType(name), want.ElementType(), fmt.Sprintf("%s[%q]", path, name))...)
		}
	case (want.IsListType() || want.IsSetType()) && got.IsTupleType():
		for i, ety := range got.TupleElementTypes() {
			out = append(out, compat(ety, want.ElementType(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case want.IsTupleType() && got.IsTupleType() && len(want.TupleElementTypes()) == len(got.TupleElementTypes()):
		for i, ety := range got.TupleElementTypes() {
			out = append(out, compat(ety, want.TupleElementTypes()[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
	case want.IsCollectionType() && got.IsCollectionType():
		out = append(out, compat(got.ElementType(), want.ElementType(), path+"[*]")...)
	}
	if len(out) == 0 && !convertible(got, want) {
		out = append(out, fmt.Sprintf("%s is %s, which does not convert to %s", path, TypeString(got), TypeString(want)))
	}
	return out
}

// convertible says whether Terraform converts a value of type got to type
// want (cty has no conversion for a type to itself).
func convertible(got, want cty.Type) bool {
	return got.Equals(want.WithoutOptionalAttributesDeep()) || convert.GetConversionUnsafe(got, want) != nil
}

// tree is m and the modules under it that can be resolved, with notes on
// those that cannot.
func tree(m *Module, r *Resolver) ([]*Module, []string) {
	seen := map[string]bool{m.Name: true}
	out := []*Module{m}
	var notes []string
	for i := 0; i < len(out); i++ {
		mod := out[i]
		for _, name := range sortedKeys(mod.Calls) {
			c := mod.Calls[name]
			child, err := r.Resolve(mod, c)
			if err != nil {
				if mod != m { // m's own calls are CheckCalls' to report
					notes = append(notes, fmt.Sprintf("%s: module %q (%s %s) of %s is not checked: %v", c.Pos(), name, c.Source, c.Version, mod.Name, err))
				}
				continue
			}
			if !seen[child.Name] {
				seen[child.Name] = true
				out = append(out, child)
			}
		}
	}
	return out, notes
}

// CheckTree checks the version requirements across m and the modules under
// it: for every provider some version satisfies all their constraints, and
// every required_version admits each of the Terraform versions given.
func CheckTree(m *Module, r *Resolver, terraform []string) Report {
	var rep Report
	mods, notes := tree(m, r)
	rep.Notes = append(rep.Notes, notes...)

	type req struct {
		mod *Module
		ProviderReq
	}
	byProvider := map[string][]req{}
	for _, mod := range mods {
		for _, p := range mod.Providers {
			if strings.TrimSpace(p.Constraint) != "" {
				byProvider[p.Source] = append(byProvider[p.Source], req{mod, p})
			}
		}
	}
	where := func(q req) string { return fmt.Sprintf("%s (%q)", pos(q.Range), q.Constraint) }
	for _, src := range sortedKeys(byProvider) {
		reqs := byProvider[src]
		var all []string
		for _, q := range reqs {
			all = append(all, q.Constraint)
		}
		v, err := Intersect(all...)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Pos: pos(reqs[0].Range), Check: "provider", Msg: fmt.Sprintf("provider %s: %v", src, err)})
			continue
		}
		if v != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("provider %s: the tree's constraints (%s) meet, from %s", src, strings.Join(all, "; "), v))
			continue
		}
		found := false
		for i := range reqs {
			for j := i + 1; j < len(reqs); j++ {
				if v, _ := Intersect(reqs[i].Constraint, reqs[j].Constraint); v != nil {
					continue
				}
				found = true
				a, b := reqs[i], reqs[j]
				if b.mod == m {
					a, b = b, a
				}
				rep.Problems = append(rep.Problems, Problem{Pos: pos(a.Range), Module: b.mod.Name, Check: "provider",
					Msg: fmt.Sprintf("no version of provider %s satisfies both %s and %s", src, where(a), where(b)),
					Fix: "make the wrapper's constraint overlap the pinned modules' (or pin module versions that accept the provider versions the wrapper wants)"})
			}
		}
		if !found {
			var ws []string
			for _, q := range reqs {
				ws = append(ws, where(q))
			}
			rep.Problems = append(rep.Problems, Problem{Pos: pos(reqs[0].Range), Check: "provider",
				Msg: fmt.Sprintf("no version of provider %s satisfies all of %s together", src, strings.Join(ws, ", ")),
				Fix: "make the wrapper's constraint overlap the pinned modules'"})
		}
	}

	for _, mod := range mods {
		for _, core := range mod.Core {
			cs, err := ParseConstraints(core.Constraint)
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{Pos: pos(core.Range), Module: mod.Name, Check: "terraform", Msg: fmt.Sprintf("required_version: %v", err)})
				continue
			}
			for _, tv := range terraform {
				if cs.Check(version.Must(version.NewVersion(tv))) {
					continue
				}
				fix := "widen required_version to admit it"
				if mod != m {
					fix = "the pinned module does not run on it: pin a version of the module that does"
				}
				rep.Problems = append(rep.Problems, Problem{Pos: pos(core.Range), Module: mod.Name, Check: "terraform",
					Msg: fmt.Sprintf("required_version %q does not admit Terraform %s", core.Constraint, tv), Fix: fix})
			}
		}
	}
	return rep
}

// CompareInterfaces checks that got declares exactly want's interface: the
// same variables (type constraint with its optional attributes' defaults,
// default, required, nullable, sensitive) and the same outputs (sensitive
// too). It is for stand-ins of a module in tests.
func CompareInterfaces(want, got *Module) []Problem {
	var out []Problem
	gotPos := func(p string) string {
		if p == "" {
			return got.Name
		}
		return p
	}
	for _, name := range sortedKeys(want.Config.Variables) {
		w := want.Config.Variables[name]
		g, ok := got.Config.Variables[name]
		wpos := fmt.Sprintf("%s:%d", w.Pos.Filename, w.Pos.Line)
		if !ok {
			out = append(out, Problem{Pos: gotPos(""), Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("%s lacks variable %q (%s)", got.Name, name, wpos), Fix: "declare it as " + want.Name + " does"})
			continue
		}
		gpos := fmt.Sprintf("%s:%d", g.Pos.Filename, g.Pos.Line)
		mismatch := func(what, w, g string) {
			out = append(out, Problem{Pos: gpos, Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("variable %q: %s %s, but %s at %s", name, what, g, w, wpos), Fix: "declare it as " + want.Name + " does"})
		}
		wt, wd, werr := ParseType(w.Type)
		gt, gd, gerr := ParseType(g.Type)
		if werr != nil || gerr != nil || !wt.Equals(gt) || !defaultsEqual(wd, gd) {
			mismatch("type", typeSource(w.Type), typeSource(g.Type))
		}
		if w.Required != g.Required {
			mismatch("required", fmt.Sprint(w.Required), fmt.Sprint(g.Required))
		}
		if !reflect.DeepEqual(w.Default, g.Default) {
			mismatch("default", fmt.Sprint(w.Default), fmt.Sprint(g.Default))
		}
		if w.Sensitive != g.Sensitive {
			mismatch("sensitive", fmt.Sprint(w.Sensitive), fmt.Sprint(g.Sensitive))
		}
		if wn, gn := want.nullable(name), got.nullable(name); wn != gn {
			mismatch("nullable", fmt.Sprint(wn), fmt.Sprint(gn))
		}
	}
	for _, name := range sortedKeys(got.Config.Variables) {
		if _, ok := want.Config.Variables[name]; !ok {
			g := got.Config.Variables[name]
			out = append(out, Problem{Pos: fmt.Sprintf("%s:%d", g.Pos.Filename, g.Pos.Line), Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("variable %q is not a variable of %s", name, want.Name), Fix: "remove it"})
		}
	}
	for _, name := range sortedKeys(want.Config.Outputs) {
		w := want.Config.Outputs[name]
		g, ok := got.Config.Outputs[name]
		if !ok {
			out = append(out, Problem{Pos: gotPos(""), Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("%s lacks output %q (%s:%d)", got.Name, name, w.Pos.Filename, w.Pos.Line), Fix: "declare it as " + want.Name + " does"})
			continue
		}
		if w.Sensitive != g.Sensitive {
			out = append(out, Problem{Pos: fmt.Sprintf("%s:%d", g.Pos.Filename, g.Pos.Line), Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("output %q: sensitive %v, but %v in %s", name, g.Sensitive, w.Sensitive, want.Name), Fix: "declare it as " + want.Name + " does"})
		}
	}
	for _, name := range sortedKeys(got.Config.Outputs) {
		if _, ok := want.Config.Outputs[name]; !ok {
			g := got.Config.Outputs[name]
			out = append(out, Problem{Pos: fmt.Sprintf("%s:%d", g.Pos.Filename, g.Pos.Line), Module: want.Name, Check: "interface",
				Msg: fmt.Sprintf("output %q is not an output of %s", name, want.Name), Fix: "remove it"})
		}
	}
	return out
}

func typeSource(s string) string {
	if s == "" {
		return "any"
	}
	return strings.Join(strings.Fields(s), " ")
}

// nullable is the variable's nullable argument (true when not set).
func (m *Module) nullable(name string) bool {
	for _, f := range m.Files {
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "variable" || len(b.Labels) != 1 || b.Labels[0] != name {
				continue
			}
			if a, ok := b.Body.Attributes["nullable"]; ok {
				if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() {
					return v.True()
				}
			}
		}
	}
	return true
}

func defaultsEqual(a, b *typeexpr.Defaults) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if !a.Type.Equals(b.Type) || len(a.DefaultValues) != len(b.DefaultValues) || len(a.Children) != len(b.Children) {
		return false
	}
	for k, v := range a.DefaultValues {
		w, ok := b.DefaultValues[k]
		if !ok || !v.RawEquals(w) {
			return false
		}
	}
	for k, v := range a.Children {
		if !defaultsEqual(v, b.Children[k]) {
			return false
		}
	}
	return true
}
