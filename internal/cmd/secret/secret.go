package secret

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/secret"
)

// NewCmdSecret returns the secret command group.
func NewCmdSecret(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret <command>",
		Short: "Manage the environment's encrypted Secrets in the GitOps repository",
	}
	cmd.AddCommand(NewCmdSet(f, nil))
	return cmd
}

// SetOptions are secret set's inputs.
type SetOptions struct {
	F      *cmdutil.Factory
	File   string
	Secret string
	// Pairs are key=value, key=@file or key=- (standard input).
	Pairs []string
}

// NewCmdSet returns secret set; runF replaces the behaviour in tests of
// flag parsing.
func NewCmdSet(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{F: f}
	return &cobra.Command{
		Use:   "set FILE NAMESPACE/NAME key=value...",
		Short: "Commit a Secret to the repository, encrypted with SOPS or sealed",
		Long: `Write the Secret NAMESPACE/NAME with the given keys into the environment's
folder of the GitOps repository (secrets/NAMESPACE/NAME.yaml), encrypted for
the environment's secrets provider, and commit it:

  sops              a Secret encrypted with SOPS for the age recipients of
                    the folder's .sops.yaml; Flux decrypts it in the cluster.
  sealed-secrets    a SealedSecret sealed, for NAMESPACE/NAME only, with the
                    public certificate of the latest sealing key in the key
                    store (no cluster needed); the Sealed Secrets controller
                    unseals it in the cluster.
  external-secrets  refused: the values live in the external store; put them
                    there and commit an ExternalSecret that reads them.

The whole Secret is replaced: give every key it should have.

Values: key=value takes the value as written (it stays in your shell history:
prefer the next two), key=@path reads it from a file, key=- from standard
input (for one key). The plaintext is encrypted in memory: it never touches
disk, logs or the commit message.`,
		Example: `  groundwork secret set environments/local.hcl shop/db password=@db-password.txt
  vault read -field=token secret/ci | groundwork secret set environments/local.hcl ci/token token=-`,
		Args: cmdutil.MinArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Secret, opts.Pairs = args[0], args[1], args[2:]
			if runF != nil {
				return runF(opts)
			}
			return RunSet(cmd.Context(), opts)
		},
	}
}

// ParseData reads the key=value pairs, files and standard input.
func ParseData(pairs []string, stdin io.Reader) (map[string][]byte, error) {
	data := map[string][]byte{}
	usedStdin := false
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, cmdutil.UsageError("%q is not key=value, key=@file or key=-", p)
		}
		if err := secret.ValidKey(k); err != nil {
			return nil, cmdutil.UsageError("%v", err)
		}
		if _, dup := data[k]; dup {
			return nil, cmdutil.UsageError("key %q is given twice", k)
		}
		switch {
		case v == "-":
			if usedStdin {
				return nil, cmdutil.UsageError("only one key can read standard input (key=-)")
			}
			usedStdin = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read standard input: %w", err)
			}
			data[k] = []byte(strings.TrimSuffix(string(b), "\n"))
		case strings.HasPrefix(v, "@"):
			b, err := os.ReadFile(v[1:])
			if err != nil {
				return nil, cmdutil.UsageError("key %s: %v", k, err)
			}
			data[k] = b
		default:
			data[k] = []byte(v)
		}
	}
	return data, nil
}

// RunSet commits the Secret.
func RunSet(ctx context.Context, opts *SetOptions) error {
	f := opts.F
	ref, err := secret.ParseRef(opts.Secret)
	if err != nil {
		return cmdutil.UsageError("%v", err)
	}
	data, err := ParseData(opts.Pairs, f.IO.In)
	if err != nil {
		return err
	}
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	r := env.GitOps.Repository
	creds, err := gitrepo.ResolveCredentials(r.Auth, f.Environ())
	if err != nil {
		return err
	}
	auth, err := creds.AuthMethod()
	if err != nil {
		return err
	}
	out, err := secret.Set(ctx, env, &gitrepo.Client{URL: r.URL, Branch: r.Branch, Auth: auth}, ref, data)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if f.Globals.JSON() {
		doc := map[string]any{"format_version": "1", "secret": ref.Namespace + "/" + ref.Name, "keys": keys,
			"path": secret.Path(env, ref), "revision": out.Revision, "changed": out.Changed, "provider": out.Provider}
		if out.SealingKey != nil {
			doc["sealing_key"] = out.SealingKey.ID()
		}
		return f.WriteJSON(doc)
	}
	if out.SealingKey != nil {
		fmt.Fprintf(f.IO.Out, "Committed SealedSecret %s/%s (keys: %s), sealed for sealing key %s, as %s in %s\n", ref.Namespace, ref.Name, strings.Join(keys, ", "), out.SealingKey.ID(), secret.Path(env, ref), out.Revision)
		return nil
	}
	fmt.Fprintf(f.IO.Out, "Committed Secret %s/%s (keys: %s), encrypted, as %s in %s\n", ref.Namespace, ref.Name, strings.Join(keys, ", "), secret.Path(env, ref), out.Revision)
	return nil
}
