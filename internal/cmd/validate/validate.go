package validate

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/diag"
	"github.com/groundwork-dev/groundwork/internal/failure"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Options are validate's inputs.
type Options struct {
	F     *cmdutil.Factory
	Files []string
}

// NewCmdValidate returns the validate command; runF replaces the behaviour
// in tests of flag parsing.
func NewCmdValidate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check environment files and report every problem",
		Long: `Check one or more environment files: syntax, types, required settings, invalid
combinations, variables and their validation rules. Every problem is reported
with file:line:column, the source line and a hint; nothing is touched.

Exit status: 0 valid, 2 when a file has errors (warnings alone exit 0).`,
		Example: `  groundwork validate environments/local.hcl
  groundwork validate environments/*.hcl --output json
  groundwork validate environments/eks.hcl --var region=eu-west-1`,
		Args: cmdutil.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
}

// FileResult is one file's result in the JSON document.
type FileResult struct {
	File        string            `json:"file"`
	Environment string            `json:"environment,omitempty"`
	Valid       bool              `json:"valid"`
	Diagnostics []diag.Diagnostic `json:"diagnostics"`
}

// Document is validate's JSON output.
type Document struct {
	FormatVersion string       `json:"format_version"`
	Valid         bool         `json:"valid"`
	ErrorCount    int          `json:"error_count"`
	WarningCount  int          `json:"warning_count"`
	Files         []FileResult `json:"files"`
	// Error is the failure when a file has errors (their diagnostics
	// again, every file's in one list).
	Error *failure.Doc `json:"error,omitempty"`
}

// Run validates every file.
func Run(opts *Options) error {
	f := opts.F
	doc := Document{FormatVersion: "1", Valid: true, Files: []FileResult{}}
	for _, path := range opts.Files {
		res := f.LoadSpec(path)
		fr := FileResult{File: path, Valid: !res.Diags.HasErrors(), Diagnostics: diag.ToJSON(res.Files, res.Diags)}
		if res.Env != nil {
			fr.Environment = res.Env.Name
		}
		for _, d := range res.Diags {
			if d.Severity == hcl.DiagError {
				doc.ErrorCount++
			} else {
				doc.WarningCount++
			}
		}
		doc.Valid = doc.Valid && fr.Valid
		doc.Files = append(doc.Files, fr)
		if f.Globals.JSON() {
			continue
		}
		if err := f.WriteDiagnostics(res); err != nil {
			return err
		}
		if res.Env != nil {
			fmt.Fprintf(f.IO.Out, "%s: valid: %s\n", path, summary(res.Env))
		}
	}
	var fail error
	if !doc.Valid {
		fail = &cmdutil.ExitError{Code: cmdutil.ExitUsage, Reported: true, Err: &cmdutil.SpecFileError{Errors: doc.ErrorCount}}
		doc.Error = cmdutil.ErrorDoc(fail)
		for _, fr := range doc.Files {
			for _, d := range fr.Diagnostics {
				if d.Severity == "error" {
					doc.Error.Diagnostics = append(doc.Error.Diagnostics, d)
				}
			}
		}
	}
	if f.Globals.JSON() {
		if err := f.WriteJSON(doc); err != nil {
			return err
		}
	} else if !doc.Valid {
		fmt.Fprintf(f.IO.ErrOut, "%d error(s), %d warning(s).\n", doc.ErrorCount, doc.WarningCount)
	}
	return fail
}

func summary(env *spec.Environment) string {
	s := fmt.Sprintf("environment %q: %s cluster, %s, %s secrets, %d addon(s)",
		env.Name, env.Cluster.Provider, spec.EngineWithChart(env.GitOps), env.Secrets.Provider, len(env.Addons))
	if env.Ephemeral != nil {
		s += ", expires after " + spec.FormatDuration(env.Ephemeral.TTL)
	}
	return s
}
