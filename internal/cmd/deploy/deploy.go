package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/deploy"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/faults"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/progress"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Options are deploy's inputs.
type Options struct {
	F       *cmdutil.Factory
	File    string
	Images  []string
	Message string
	Wait    bool
	// Engine connects to the environment's GitOps engine for --wait; nil
	// means the cluster the environment's kubeconfig points at.
	Engine func(env *spec.Environment, stateDir string, isAncestor func(ctx context.Context, a, d string) (bool, error)) (gitops.Engine, error)
}

// connect is the engine of env on its cluster.
func connect(env *spec.Environment, stateDir string, isAncestor func(ctx context.Context, a, d string) (bool, error)) (gitops.Engine, error) {
	path, kctx := facts.Kubeconfig(env, stateDir)
	kc, err := kube.Connect(path, kctx)
	if err != nil {
		return nil, err
	}
	return engines.New(gitops.Deps{Env: env, Kube: kc, IsAncestor: isAncestor}), nil
}

// NewCmdDeploy returns the deploy command; runF replaces the behaviour in
// tests of flag parsing.
func NewCmdDeploy(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "deploy FILE --image name=registry/app:tag...",
		Short: "Ship new image versions by committing them to the GitOps repository",
		Long: `Update every reference to the named images in the environment's folder of the
GitOps repository (kustomization images: entries, HelmRelease values with
image strings or repository/tag pairs, plain manifests' image: fields), commit
with a message naming the change, and push. No cluster access is needed. When
the push is rejected because the remote moved (another pipeline deployed
meanwhile), the change is made again on the new head and pushed, a bounded
number of times. An image no manifest uses is an error, so a typo cannot pass
for a deploy. SOPS-encrypted files are never touched.

--wait then waits until the reconciler applied that revision (needs the
cluster).`,
		Example: `  groundwork deploy environments/existing.hcl --image ghcr.io/acme/shop=ghcr.io/acme/shop:1.4.2
  groundwork deploy environments/local.hcl --image web=ghcr.io/acme/web:2.0.1 --wait --output json`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if len(opts.Images) == 0 {
				return cmdutil.UsageError("give at least one --image name=registry/app:tag")
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Images, "image", nil, "set image `name=registry/app:tag` (repeatable)")
	cmd.Flags().StringVar(&opts.Message, "message", "", "commit message (default: names the images and versions)")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "wait until the reconciler applied the commit (needs cluster access)")
	return cmd
}

// Run deploys.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	var images []deploy.Image
	var refs []string
	for _, a := range opts.Images {
		img, err := deploy.ParseImage(a)
		if err != nil {
			// Refused before anything is committed: exit 2.
			return cmdutil.UsageError("%v", err)
		}
		images, refs = append(images, img), append(refs, img.Name+"="+img.Ref())
	}
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	g := env.GitOps
	creds, err := gitrepo.ResolveCredentials(g.Repository.Auth, f.Environ())
	if err != nil {
		return err
	}
	auth, err := creds.AuthMethod()
	if err != nil {
		return err
	}
	msg := opts.Message
	if msg == "" {
		msg = fmt.Sprintf("deploy %s: %s", env.Name, strings.Join(refs, ", "))
	}
	git := &gitrepo.Client{URL: g.Repository.URL, Branch: g.Repository.Branch, Auth: auth,
		Author: object.Signature{Name: g.Commit.AuthorName, Email: g.Commit.AuthorEmail}, MaxAttempts: 10}
	start := time.Now()
	var edits []deploy.Edit
	out, err := git.Apply(ctx, gitrepo.Change{Root: g.Repository.Path, Message: msg,
		Edit: func(current map[string][]byte) ([]gitrepo.File, error) {
			files, e, err := deploy.Update(current, images)
			edits = e
			return files, err
		}})
	if err != nil {
		return err
	}
	faults.Point("deploy:pushed")
	doc := map[string]any{"format_version": "1", "environment": env.Name, "revision": out.Revision, "changed": out.Changed,
		"attempts": out.Attempts, "edits": edits, "took_ms": time.Since(start).Milliseconds()}
	if opts.Wait {
		newEngine := opts.Engine
		if newEngine == nil {
			newEngine = connect
		}
		e, err := newEngine(env, f.StateDir(env), git.IsAncestor)
		if err != nil {
			return err
		}
		snap, err := git.Read(ctx, g.Repository.Path)
		if err != nil {
			return err
		}
		if err := e.Wait(ctx, out.Revision, e.Declared(snap.Files)); err != nil {
			return err
		}
		doc["applied"] = true
	}
	if f.Globals.JSON() {
		return f.WriteJSON(doc)
	}
	w := f.IO.Out
	if !out.Changed {
		fmt.Fprintf(w, "Nothing to deploy: the manifests of %s already use %s (%s).\n", env.Name, strings.Join(refs, ", "), out.Revision)
		return nil
	}
	if opts.Wait {
		fmt.Fprintf(w, "Deployed to %s: %s was pushed (%d push attempt(s)) and applied by the cluster after %s:\n", env.Name, out.Revision, out.Attempts, progress.Duration(time.Since(start)))
	} else {
		// Without --wait nothing has reached the cluster yet.
		fmt.Fprintf(w, "Pushed %s for %s (%d push attempt(s)); the reconciler applies it on its next sync (--wait waits for that):\n", out.Revision, env.Name, out.Attempts)
	}
	for _, e := range edits {
		if e.From != e.To {
			fmt.Fprintf(w, "  %s: %s -> %s\n", e.Path, e.From, e.To)
		}
	}
	return nil
}
