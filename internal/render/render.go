package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/kustomization"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/templates"
)

// File is one rendered file.
type File struct {
	// Path is relative to the repository root, slash-separated.
	Path string
	Data []byte
	// SeedOnly files are written only when missing: users own them.
	SeedOnly bool
	// Build, when set, makes the file's content from the repository as it
	// is (see gitrepo.File.Build); Data is what it holds in an empty one.
	Build func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error)
}

// Options are the facts rendering needs beyond the spec.
type Options struct {
	// AgeRecipient is the environment's age public key (SOPS only).
	AgeRecipient string
	// CredentialsSecret names the Secret holding the Git credentials the
	// reconciler uses; empty for a repository that needs none.
	CredentialsSecret string
	// NotificationURLs are the webhook URLs of the spec's notification
	// targets, by target name (Flux: each is encrypted with SOPS into the
	// target's Secret in groundwork/notifications/). A target missing here
	// keeps the Secret the repository has (rebuild, without the variable);
	// its file cannot be written where there is none.
	NotificationURLs map[string]string
	// Decrypt decrypts a SOPS file of the repository with the
	// environment's age key. A notification Secret that still holds its
	// target's URL, for AgeRecipient, is kept byte for byte: encrypting
	// anew on each run would make every up a commit. Nil: written anew.
	Decrypt func(enc []byte) ([]byte, error)
	// KeyPending says AgeRecipient stands for a key up has not created
	// yet (plan): the encrypted files are placeholders.
	KeyPending bool
}

// data is what templates see.
type data struct {
	Env               *spec.Environment
	Namespace         string
	Interval          string
	Prune             bool
	Repo              spec.Repository
	SOPS              bool
	AgeRecipient      string
	CredentialsSecret string
	Addon             *spec.Addon
	// Wave orders addons for Argo CD: one more than the addons it
	// depends on.
	Wave int
	// Notifications are the notification targets as Flux's templates
	// declare them; ArgoCDValues the argo-cd chart values that configure
	// argocd-notifications (nil without notifications).
	Notifications []notification
	ArgoCDValues  map[string]any
}

// notification is a target as templates/flux/groundwork/notifications/
// declares it.
type notification struct {
	spec.NotificationTarget
	Object, Secret, ProviderType, Severity string
	// SecretFile is the Secret's file, in groundwork/notifications/.
	SecretFile             string
	EventKinds, Exclusions []string
}

// Render renders the repository files of env for its engine, sorted by path.
func Render(env *spec.Environment, opts Options) ([]File, error) {
	engine := env.GitOps.Engine
	sops := env.Secrets.Provider == spec.SecretsSOPS
	if sops && opts.AgeRecipient == "" {
		return nil, fmt.Errorf("render: the SOPS integration needs the environment's age recipient")
	}
	root, err := fs.Sub(templates.FS, engine)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(engine).Funcs(funcs).ParseFS(root, "_*.tmpl")
	if err != nil {
		return nil, err
	}
	d := data{
		Env: env, Namespace: env.GitOps.Namespace, Interval: spec.FormatDuration(env.GitOps.Sync.Interval),
		Prune: env.GitOps.Sync.Prune, Repo: env.GitOps.Repository, SOPS: sops,
		AgeRecipient: opts.AgeRecipient, CredentialsSecret: opts.CredentialsSecret,
		ArgoCDValues: ArgoCDValues(env),
	}
	if n := env.Notifications; n != nil {
		for _, t := range n.Targets {
			d.Notifications = append(d.Notifications, notification{NotificationTarget: t,
				Object: notify.ObjectName(t), Secret: notify.SecretName(t), ProviderType: notify.FluxProviderType(t), Severity: notify.FluxSeverity(t),
				SecretFile: notificationSecretFile(t), EventKinds: notify.FluxEventKinds, Exclusions: notify.FluxExclusions})
		}
	}
	var files []File
	encryptedURLs := false
	err = fs.WalkDir(root, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasPrefix(path.Base(p), "_") {
			return err
		}
		src, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		t, err := template.Must(tmpl.Clone()).New(p).Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		out, seedOnly := outputPath(p)
		if path.Base(out) == "addon.yaml" {
			waves := waves(env.Addons)
			for i := range env.Addons {
				a := d
				a.Addon = &env.Addons[i]
				a.Wave = waves[a.Addon.Name]
				f, err := execute(t, path.Join(path.Dir(out), a.Addon.Name+".yaml"), a)
				if err != nil {
					return err
				}
				files = append(files, File{Path: path.Join(d.Repo.Path, f.Path), Data: f.Data, SeedOnly: seedOnly})
			}
			return nil
		}
		if path.Base(out) == ".sops.yaml" && !sops || isNotifications(out) && env.Notifications == nil {
			return nil
		}
		f, err := execute(t, out, d)
		if err != nil {
			return err
		}
		f.Path, f.SeedOnly = path.Join(d.Repo.Path, f.Path), seedOnly
		if out == kustomization.FileName {
			// The engine reads the folder as a Kustomize root (Flux): an
			// entry point of the user's beside groundwork's is kept.
			f.Build = rootKustomization(d.Repo.Path, f.Data)
		}
		// The engine keeps its notification objects in Git: their
		// Secrets (the webhook URLs, encrypted) go beside them.
		encryptedURLs = encryptedURLs || isNotifications(out)
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if encryptedURLs {
		secrets, err := notificationSecrets(env, opts)
		if err != nil {
			return nil, err
		}
		files = append(files, secrets...)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("two files render to %s: rename the addon whose name collides with a file groundwork manages", files[i].Path)
		}
	}
	return files, nil
}

// OwnFolder is the folder of the environment's path that holds everything
// groundwork declares for Flux; the root kustomization.yaml lists it.
const OwnFolder = "groundwork"

// SeededFolders are the folders of the environment's path that groundwork
// seeds and applies through Kustomizations of its own (the user's
// applications, the Secrets secret set writes): the root must not list
// them again, and down --purge-repo removes them with the environment.
var SeededFolders = []string{"apps", "secrets"}

// Folders are the environment's folders that are groundwork's to lay out:
// its own and the ones it seeds.
var Folders = append([]string{OwnFolder}, SeededFolders...)

// rootKustomization builds the environment's root kustomization.yaml from
// the repository: in a kustomization.yaml the user owns, groundwork's folder
// is added to their resources and nothing else changes; otherwise (none yet,
// or groundwork's) it is groundwork's rendered file listing its folder, then
// every entry at the root that Flux would apply were there no
// kustomization.yaml (the user's own entry points: files and folders that
// are not groundwork's).
func rootKustomization(root string, rendered []byte) func([]byte, bool, map[string][]byte) ([]byte, error) {
	return func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error) {
		if existing != nil && !managed {
			out, err := kustomization.AddResources(existing, []string{OwnFolder})
			if err != nil {
				return nil, fmt.Errorf("yours, and groundwork must list its folder %s in it: %w; add \"- %s\" to its resources yourself", OwnFolder, err, OwnFolder)
			}
			return out, nil
		}
		isGroundworks := func(p string) bool {
			b, ok := tree[p]
			if !ok {
				b, ok = tree[path.Join(p, kustomization.FileName)]
			}
			return ok && bytes.HasPrefix(b, []byte(managedMarker))
		}
		user := kustomization.Generated(tree, root, func(p string) bool {
			for _, f := range Folders {
				if p == path.Join(root, f) {
					return true
				}
			}
			return isGroundworks(p)
		})
		if len(user) == 0 {
			return rendered, nil
		}
		out := append([]byte{}, rendered...)
		for _, u := range user {
			out = append(out, "  - "+u+"\n"...)
		}
		return out, nil
	}
}

// managedMarker starts the files groundwork writes (gitrepo.ManagedMarker;
// the templates carry it).
const managedMarker = "# Managed by groundwork"

// outputPath maps a template's path to the file it renders: without .tmpl,
// "dot-" for a leading dot, ".once" marking seed files.
func outputPath(p string) (string, bool) {
	p = strings.TrimSuffix(p, ".tmpl")
	p, seedOnly := strings.CutSuffix(p, ".once")
	dir, base := path.Split(p)
	if rest, ok := strings.CutPrefix(base, "dot-"); ok {
		base = "." + rest
	}
	return path.Join(dir, base), seedOnly
}

func execute(t *template.Template, out string, d data) (File, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return File{}, fmt.Errorf("render %s: %w", out, err)
	}
	b := bytes.TrimLeft(buf.Bytes(), "\n")
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return File{Path: out, Data: b}, nil
}

// waves gives each addon its depth in the dependency graph (the spec has
// refused cycles and unknown names already).
func waves(addons []spec.Addon) map[string]int {
	deps := map[string][]string{}
	for _, a := range addons {
		deps[a.Name] = a.DependsOn
	}
	out := map[string]int{}
	var depth func(name string, seen int) int
	depth = func(name string, seen int) int {
		if w, ok := out[name]; ok {
			return w
		}
		w := 0
		if seen <= len(addons) { // a cycle cannot recurse forever
			for _, d := range deps[name] {
				w = max(w, depth(d, seen+1)+1)
			}
		}
		out[name] = w
		return w
	}
	for _, a := range addons {
		depth(a.Name, 0)
	}
	return out
}

var funcs = template.FuncMap{
	"quote": strconv.Quote,
	// duration formats a spec duration as the spec writes it (Argo CD
	// sync windows take Go durations).
	"duration": spec.FormatDuration,
	"seconds":  func(d time.Duration) int64 { return int64(d.Seconds()) },
	"join":     strings.Join,
	// chartRepo is a chart source as Argo CD wants it: OCI registries
	// without their scheme.
	"chartRepo": func(c spec.Chart) string { return strings.TrimPrefix(c.Repository, "oci://") },
	"toYaml": func(v any) (string, error) {
		b, err := yaml.Marshal(v)
		return strings.TrimSuffix(string(b), "\n"), err
	},
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	},
}

// ArgoCDValues are the argo-cd chart values groundwork installs Argo CD with,
// the same in the Helm release up installs and in the Application by which
// Argo CD manages itself: the environment's sync interval as Argo CD's
// reconciliation timeout (how often it compares Applications with Git, and
// how long the repo-server keeps a branch's resolved revision; the chart's
// default is 180s) with a jitter of a quarter of it, argocd-notifications for
// the notification targets, and the chart's redis-secret-init hook off: the
// Argo CD engine makes the Redis password Secret before the install (see
// argocd.Engine.Prepare). The hook is a pre-install Job, with its
// ServiceAccount, Role and RoleBinding created and waited for in turn, that
// runs before anything else of the release is created (on a node without
// Argo CD's image, after pulling it): a rebuild pays it in recovery time.
func ArgoCDValues(env *spec.Environment) map[string]any {
	interval := env.GitOps.Sync.Interval
	vals := map[string]any{"configs": map[string]any{"cm": map[string]any{
		"timeout.reconciliation": spec.FormatDuration(interval),
		// Argo CD spreads the comparisons of many Applications over a
		// jitter of 60s by default, which would more than double a short
		// interval: a quarter of the interval spreads them as well.
		"timeout.reconciliation.jitter": spec.FormatDuration((interval / 4).Round(time.Second)),
	}},
		"redisSecretInit": map[string]any{"enabled": false},
	}
	for k, v := range notify.ArgoCDValues(env) {
		vals[k] = v
	}
	return vals
}

// FileMap keys rendered files by path.
func FileMap(files []File) map[string][]byte {
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Path] = f.Data
	}
	return m
}
