package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// decoder evaluates attributes of one block against an evaluation context
// and collects every problem instead of stopping at the first.
type decoder struct {
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
}

// attrs is a block's attributes, as returned by hcl.Body.Content.
type attrs = hcl.Attributes

func (d *decoder) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng,
	})
}

func (d *decoder) warnf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  rng,
	})
}

// content decodes a body against a schema; hcl itself reports unknown
// arguments and blocks with a "Did you mean" suggestion, and missing
// required arguments.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// eval evaluates an attribute and converts it to ty. ok is false when the
// attribute is absent, null or invalid (a diagnostic is recorded for the
// latter).
func (d *decoder) eval(a attrs, name string, ty cty.Type, what string) (cty.Value, bool) {
	attr, exists := a[name]
	if !exists {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errorf(attr.Expr.Range().Ptr(), "Value depends on an invalid input",
			"The value of %q depends on a variable or local value that is invalid; fix the errors reported for it.", name)
		return cty.NilVal, false
	}
	v, _ = v.Unmark()
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(attr.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s. It must be %s.", name, err, what)
		return cty.NilVal, false
	}
	return cv, true
}

// str reads a string attribute into dst (left untouched when absent).
func (d *decoder) str(a attrs, name string, dst *string) bool {
	v, ok := d.eval(a, name, cty.String, "a string")
	if ok {
		*dst = v.AsString()
	}
	return ok
}

// nonEmpty reads a string attribute that, when given, must not be empty.
func (d *decoder) nonEmpty(a attrs, name string, dst *string) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(a[name].Expr.Range().Ptr(), "Empty value", "%q must not be empty; remove the attribute to use the default, or give a value.", name)
		return false
	}
	*dst = s
	return true
}

// oneOf reads a string attribute that must be one of allowed.
func (d *decoder) oneOf(a attrs, name string, allowed []string, dst *string) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	if !contains(allowed, s) {
		d.errorf(a[name].Expr.Range().Ptr(), fmt.Sprintf("Invalid %s", name), "%q is not a valid %s.%s Valid values: %s.",
			s, name, didYouMean(s, allowed), quoteList(allowed))
		return false
	}
	*dst = s
	return true
}

func (d *decoder) boolean(a attrs, name string, dst *bool) bool {
	v, ok := d.eval(a, name, cty.Bool, "true or false")
	if ok {
		*dst = v.True()
	}
	return ok
}

// integer reads a whole number in [min, max].
func (d *decoder) integer(a attrs, name string, min, max int, dst *int) bool {
	v, ok := d.eval(a, name, cty.Number, "a whole number")
	if !ok {
		return false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < int64(min) || i > int64(max) {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid number", "%q must be a whole number from %d to %d, not %s.", name, min, max, bf.Text('f', -1))
		return false
	}
	*dst = int(i)
	return true
}

// duration reads a Go duration string such as "90s", "30m" or "2h"; "d"
// (days) is accepted as a convenience.
func (d *decoder) duration(a attrs, name string, dst *time.Duration) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	dur, err := ParseDuration(s)
	if err != nil || dur <= 0 {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid duration",
			"%q is not a valid duration for %q: write a positive number with a unit, like \"90s\", \"30m\", \"2h\" or \"7d\".", s, name)
		return false
	}
	*dst = dur
	return true
}

// ParseDuration reads a duration as environment files and command-line
// flags write it: Go's syntax ("90s", "30m", "1h30m") plus whole or
// fractional days ("7d", "1.5d"). It is the one duration parser of both.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn") {
		dur, err := time.ParseDuration(n + "h")
		if err != nil {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		if dur > math.MaxInt64/24 || dur < math.MinInt64/24 {
			return 0, fmt.Errorf("time: invalid duration %q: too long", s)
		}
		return dur * 24, nil
	}
	return time.ParseDuration(s)
}

func (d *decoder) strList(a attrs, name string, dst *[]string) bool {
	v, ok := d.eval(a, name, cty.List(cty.String), "a list of strings")
	if !ok {
		return false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errorf(a[name].Expr.Range().Ptr(), "Null list element", "%q must not contain null.", name)
			return false
		}
		out = append(out, e.AsString())
	}
	*dst = out
	return true
}

func (d *decoder) strMap(a attrs, name string, dst *map[string]string) bool {
	v, ok := d.eval(a, name, cty.Map(cty.String), "a map of strings, like { team = \"platform\" }")
	if !ok {
		return false
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			d.errorf(a[name].Expr.Range().Ptr(), "Null map value", "The value of key %q in %q must not be null.", k.AsString(), name)
			return false
		}
		out[k.AsString()] = e.AsString()
	}
	*dst = out
	return true
}

// object reads an arbitrary object (such as Helm values) as plain Go values.
func (d *decoder) object(a attrs, name string, dst *map[string]any) bool {
	attr, exists := a[name]
	if !exists {
		return false
	}
	v, diags := attr.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return false
	}
	v, _ = v.UnmarkDeep()
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.errorf(attr.Expr.Range().Ptr(), "Incorrect attribute value type",
			"%q must be an object, like { replicaCount = 2 }, not %s.", name, v.Type().FriendlyName())
		return false
	}
	out, err := toGo(v)
	if err != nil {
		d.errorf(attr.Expr.Range().Ptr(), "Invalid value", "%q cannot be represented as YAML: %s.", name, err)
		return false
	}
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	*dst = m
	return true
}

// toGo turns a known cty value into plain Go values through JSON.
func toGo(v cty.Value) (any, error) {
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// uniqueBlock returns the single block of a type and reports duplicates.
func (d *decoder) uniqueBlock(blocks hcl.Blocks, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			d.errorf(b.DefRange.Ptr(), fmt.Sprintf("Duplicate %s block", typ),
				"Only one %s block is allowed here; the first one is at %s. Merge the two blocks.", typ, first.DefRange)
			continue
		}
		first = b
	}
	return first
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// didYouMean returns " Did you mean "x"?" for the closest candidate, or "".
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := levenshtein.Distance(given, c, nil); dist < bestDist && dist < len(given) {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatDuration prints a duration the way environment files write it:
// 2h rather than 2h0m0s, 1h30m rather than 1h30m0s. It writes no days:
// manifests (Flux intervals, Argo CD timeouts) take what it writes.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
