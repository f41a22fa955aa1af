package gc

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/gc"
)

// Options are gc's inputs.
type Options struct {
	F      *cmdutil.Factory
	Files  []string
	DryRun bool
}

// NewCmdGC returns the gc command; runF replaces the behaviour in tests of
// flag parsing.
func NewCmdGC(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "gc FILE...",
		Short: "Delete expired ephemeral environments",
		Long: `Find the instances of the given ephemeral environments (up --ephemeral, or an
ephemeral block) through their state directories, read the expiry each one's
cluster records (ConfigMap groundwork-system/groundwork-expiry), and delete the
expired ones as down --uninstall --purge-repo would: the kind cluster, or the
reconciler from an existing cluster, the cloud cluster through terraform
destroy, the instance's folder in the repository, and its state. Instances of
ephemeral eks environments are also found by the tags on their EKS clusters
(groundwork-environment, groundwork-expires), even when their state directory
is gone, and destroyed through Terraform when the environment has a state
block. Instances whose expiry cannot be read are kept and listed.`,
		Example: `  groundwork gc environments/ci-ephemeral.hcl --dry-run
  groundwork gc environments/*.hcl --output json`,
		Args: cmdutil.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be deleted, deleting nothing")
	return cmd
}

// Run collects.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	var roots []gc.Root
	for _, file := range opts.Files {
		res := f.LoadSpec(file)
		if err := f.ReportSpec(res); err != nil {
			return err
		}
		roots = append(roots, gc.Root{Env: res.Env, File: file, StateRoot: filepath.Dir(f.StateDir(res.Env))})
	}
	out := gc.Run(ctx, gc.Options{Envs: roots, Environ: f.Environ(), DryRun: opts.DryRun,
		Logf: func(format string, args ...any) { fmt.Fprintf(f.IO.ErrOut, " • "+format+"\n", args...) }})
	// A file without an ephemeral block has instances only when up
	// --ephemeral made them; say so when it has none, or gc of the
	// wrong file looks like a clean slate.
	var notEphemeral []string
	for i, r := range roots {
		if r.Env.Ephemeral != nil {
			continue
		}
		found := false
		for _, in := range out {
			found = found || strings.HasPrefix(in.Name, r.Env.Name+"-")
		}
		if !found {
			notEphemeral = append(notEphemeral, opts.Files[i])
			fmt.Fprintf(f.IO.ErrOut, "%s: environment %s is not ephemeral (no ephemeral block) and has no instances made with up --ephemeral; gc deletes only expired instances of ephemeral environments, so it leaves %s alone (groundwork down deletes it).\n", opts.Files[i], r.Env.Name, r.Env.Name)
		}
	}
	failed := 0
	for _, in := range out {
		if in.Action == "delete failed" {
			failed++
		}
	}
	var fail error
	if failed > 0 {
		fail = &cmdutil.ExitError{Code: cmdutil.ExitFailure, Reported: true, Err: fmt.Errorf("%d instance(s) could not be deleted", failed)}
	}
	if f.Globals.JSON() {
		if out == nil {
			out = []gc.Instance{}
		}
		doc := map[string]any{"format_version": "1", "dry_run": opts.DryRun, "instances": out}
		if len(notEphemeral) > 0 {
			doc["not_ephemeral"] = notEphemeral
		}
		if fail != nil {
			doc["error"] = cmdutil.ErrorDoc(fail)
		}
		if err := f.WriteJSON(doc); err != nil {
			return err
		}
	} else {
		if len(out) == 0 {
			fmt.Fprintln(f.IO.Out, "No instances of ephemeral environments found.")
		}
		for _, in := range out {
			line := fmt.Sprintf("%-30s %s", in.Name, in.Action)
			if in.Error != "" && in.Action == "delete failed" {
				line += ": " + in.Error
			}
			fmt.Fprintln(f.IO.Out, line)
		}
	}
	return fail
}
