package diag

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// WriteText renders every diagnostic once, in Sorted order: a
// "file:line:col: severity: summary" lead line (that editors and terminals
// can jump to), then hcl's rendering of the source snippet and the detail
// without its own "Error: summary" line, which said the same again. A
// diagnostic with no place in a file keeps hcl's rendering as it is. width
// wraps the detail (0: no wrapping).
func WriteText(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	for _, d := range Sorted(diags) {
		var buf bytes.Buffer
		if err := hcl.NewDiagnosticTextWriter(&buf, files, width, color).WriteDiagnostic(d); err != nil {
			return err
		}
		out := buf.Bytes()
		if d.Subject != nil {
			if _, err := fmt.Fprintf(w, "%s: %s: %s\n", Location(*d.Subject), severity(d.Severity), d.Summary); err != nil {
				return err
			}
			// hcl's first line is "Error: summary" (or "Warning: ..."),
			// then a blank line.
			if i := bytes.IndexByte(out, '\n'); i >= 0 {
				out = bytes.TrimPrefix(out[i+1:], []byte("\n"))
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// Sorted returns the diagnostics in the order of the files: by file name,
// line and column; those with no place in a file (a bad --var) after them,
// in the order given.
func Sorted(diags hcl.Diagnostics) hcl.Diagnostics {
	out := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Subject, out[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
	return out
}

// Location is file:line:column of the start of rng.
func Location(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}

func severity(s hcl.DiagnosticSeverity) string {
	if s == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is the JSON form of one diagnostic.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	// Range is where the problem is; absent for problems with no place in a
	// file, such as a bad --var option.
	Range *Range `json:"range,omitempty"`
	// Snippet is the source line the range starts on.
	Snippet string `json:"snippet,omitempty"`
}

// Range is a span of a source file; lines and columns count from 1.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Pos is a position in a source file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// ToJSON converts diagnostics to their JSON form; never nil.
func ToJSON(files map[string]*hcl.File, diags hcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range Sorted(diags) {
		j := Diagnostic{Severity: severity(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if s := d.Subject; s != nil {
			j.Range = &Range{
				Filename: s.Filename,
				Start:    Pos{Line: s.Start.Line, Column: s.Start.Column, Byte: s.Start.Byte},
				End:      Pos{Line: s.End.Line, Column: s.End.Column, Byte: s.End.Byte},
			}
			if f := files[s.Filename]; f != nil {
				j.Snippet = line(f.Bytes, s.Start.Line)
			}
		}
		out = append(out, j)
	}
	return out
}

func line(src []byte, n int) string {
	cur, start := 1, 0
	for i, b := range src {
		if b != '\n' {
			continue
		}
		if cur == n {
			return string(src[start:i])
		}
		cur, start = cur+1, i+1
	}
	if cur == n {
		return string(src[start:])
	}
	return ""
}
