package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/groundwork-dev/groundwork/internal/diag"
)

// Error is a failed terraform command with the diagnostics Terraform
// reported. Its message renders the error diagnostics like groundwork's own
// (location, source snippet, detail); Err holds what terraform-exec said
// (the exit status, the standard error) for when there are none.
type Error struct {
	// Command is the terraform subcommand, like "init" or "apply".
	Command string
	// Dir is the working directory the command ran in.
	Dir         string
	Diagnostics []tfjson.Diagnostic
	Err         error
}

func (e *Error) Error() string {
	errs := e.Errors()
	if len(errs) == 0 {
		msg := "no diagnostics"
		if e.Err != nil {
			msg = strings.TrimSpace(e.Err.Error())
		}
		return fmt.Sprintf("terraform %s failed: %s", e.Command, msg)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "terraform %s failed with %d error(s):\n", e.Command, len(errs))
	d, files := e.HCL()
	_ = diag.WriteText(&b, files, d, 100, false)
	return strings.TrimRight(b.String(), "\n")
}

func (e *Error) Unwrap() error { return e.Err }

// Errors are the diagnostics of error severity.
func (e *Error) Errors() []tfjson.Diagnostic {
	var out []tfjson.Diagnostic
	for _, d := range e.Diagnostics {
		if d.Severity == tfjson.DiagnosticSeverityError {
			out = append(out, d)
		}
	}
	return out
}

// HCL converts the error diagnostics to HCL's, with the working
// directory's files for the source snippets, for diag.WriteText and
// diag.ToJSON.
func (e *Error) HCL() (hcl.Diagnostics, map[string]*hcl.File) {
	files := map[string]*hcl.File{}
	var out hcl.Diagnostics
	for _, d := range e.Errors() {
		hd := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: d.Summary, Detail: d.Detail}
		if d.Address != "" {
			hd.Detail = strings.TrimSpace(fmt.Sprintf("(%s) %s", d.Address, hd.Detail))
		}
		if r := d.Range; r != nil && r.Filename != "" {
			name := r.Filename
			if !filepath.IsAbs(name) && e.Dir != "" {
				name = filepath.Join(e.Dir, name)
			}
			hd.Subject = &hcl.Range{Filename: name,
				Start: hcl.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:   hcl.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
			if _, seen := files[name]; !seen {
				if src, err := os.ReadFile(name); err == nil {
					files[name] = &hcl.File{Bytes: src}
				}
			}
		}
		out = append(out, hd)
	}
	return out, files
}

// JSON is the diagnostics in groundwork's JSON form (--output json).
func (e *Error) JSON() []diag.Diagnostic {
	d, files := e.HCL()
	return diag.ToJSON(files, d)
}

// LockedError says another run holds the state's lock.
type LockedError struct {
	Err *Error
}

func (e *LockedError) Error() string {
	return e.Err.Error() + "\nAnother terraform run (another groundwork up or down, or someone's terraform) holds the state lock: wait for it to finish and run again. If that run died, remove the lock with terraform force-unlock LOCK_ID in " + e.Err.Dir + "."
}

func (e *LockedError) Unwrap() error { return e.Err }

// classify wraps a terraform-exec error with the diagnostics seen.
func classify(command, dir string, diags []tfjson.Diagnostic, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Interrupted: Terraform was sent an interrupt and stopped
		// gracefully; its diagnostics (if any) say what was left.
		return &Error{Command: command, Dir: dir, Diagnostics: diags, Err: err}
	}
	te := &Error{Command: command, Dir: dir, Diagnostics: diags, Err: err}
	for _, d := range te.Errors() {
		if strings.Contains(d.Summary, "acquiring the state lock") {
			return &LockedError{te}
		}
	}
	return te
}
