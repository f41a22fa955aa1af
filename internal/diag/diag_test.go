package diag

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

func TestTextAndJSON(t *testing.T) {
	p := hclparse.NewParser()
	src := "a = 1\nb = oops\n"
	f, _ := p.ParseHCL([]byte(src), "x.hcl")
	attrs, _ := f.Body.JustAttributes()
	_, diags := attrs["b"].Expr.Value(nil)
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No place", Detail: "a problem with no range"})

	var buf bytes.Buffer
	if err := WriteText(&buf, p.Files(), diags, 0, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"x.hcl:2:5: error: Variables not allowed", "   2: b = oops", "Warning: No place"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	js := ToJSON(p.Files(), diags)
	if len(js) != 2 || js[0].Range.Start.Line != 2 || js[0].Range.Start.Column != 5 || js[0].Snippet != "b = oops" || js[1].Range != nil || js[1].Severity != "warning" {
		t.Fatalf("json: %+v", js)
	}
}

func TestLine(t *testing.T) {
	src := []byte("one\ntwo\nthree")
	for n, want := range map[int]string{1: "one", 2: "two", 3: "three", 4: ""} {
		if got := line(src, n); got != want {
			t.Errorf("line %d: %q", n, got)
		}
	}
}

// TestEachProblemOnceInLineOrder: every problem is said once (it was
// "file:line:col: error: X" then hcl's "Error: X"), and in the order of the
// file, with colour or without.
func TestEachProblemOnceInLineOrder(t *testing.T) {
	p := hclparse.NewParser()
	f, _ := p.ParseHCL([]byte("a = 1\nb = oops\nc = nope\n"), "x.hcl")
	attrs, _ := f.Body.JustAttributes()
	_, late := attrs["c"].Expr.Value(nil)
	_, early := attrs["b"].Expr.Value(nil)
	late[0].Summary, early[0].Summary = "Late problem", "Early problem"
	diags := append(late, early...)
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteText(&buf, p.Files(), diags, 0, color); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if n := strings.Count(out, "Early problem"); n != 1 {
			t.Errorf("colour %t: the problem is said %d times:\n%s", color, n, out)
		}
		if i, j := strings.Index(out, "x.hcl:2:5: error: Early problem"), strings.Index(out, "x.hcl:3:5: error: Late problem"); i < 0 || j < 0 || i > j {
			t.Errorf("colour %t: not in line order:\n%s", color, out)
		}
		if !color && !strings.Contains(out, "   2: b = oops") {
			t.Errorf("colour %t: the snippet is gone:\n%s", color, out)
		}
	}
	if js := ToJSON(p.Files(), diags); js[0].Summary != "Early problem" {
		t.Errorf("JSON not in line order: %+v", js)
	}
}
