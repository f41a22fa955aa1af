package gitops

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Engine is a GitOps engine as groundwork drives it. Files are a
// repository's files keyed by their path from the repository's root (as
// rendered, or as Git has them).
type Engine interface {
	Watcher
	// Kind is the kind of the objects Git declares for the engine to
	// apply (Kustomization, Application), as users read it.
	Kind() string
	// SyncFile is the file, under the environment's path, that holds the
	// objects pointing the engine at the repository: a repository without
	// it has nothing to rebuild from.
	SyncFile() string
	// Release is the Helm release that installs the engine, with
	// groundwork's values.
	Release() helm.Release
	// Prepare creates, before Release is installed or upgraded, what the
	// release needs and groundwork provides in the chart's stead (its
	// namespace too); it never changes what exists.
	Prepare(ctx context.Context) error
	// SyncObjects are the objects that point the engine at the repository
	// (credentials included), as files declare them.
	SyncObjects(ctx context.Context, files map[string][]byte, o AttachOptions) ([]*unstructured.Unstructured, error)
	// Attach applies the sync objects; it reports whether anything
	// changed.
	Attach(ctx context.Context, files map[string][]byte, o AttachOptions) (bool, error)
	// Declared lists the objects files declare for the engine to apply
	// (what Wait waits for).
	Declared(files map[string][]byte) []string
	// DeclaredChart is the engine's chart version and repository as files
	// declare them (the engine upgrades itself from Git): empty when
	// files do not say.
	DeclaredChart(files map[string][]byte) (version, repository string)
	// OwnsRelease reports whether the engine manages its own Helm release
	// from Git (then up leaves the release alone), and why.
	OwnsRelease(ctx context.Context) (bool, string, error)
	// Wait asks the engine to compare with Git now and waits until
	// everything required is ready at revision (syncing by hand when the
	// spec asks for manual sync), at most the spec's sync timeout.
	Wait(ctx context.Context, revision string, required []string) error
	// Detach removes the engine's sync objects and the Secrets groundwork
	// gave it, leaving what they applied in place: afterwards nothing
	// the engine applied is garbage-collected when it goes. It returns
	// what it deleted.
	Detach(ctx context.Context) ([]string, error)
	// NotificationSecretPath is where in the repository the engine keeps
	// a notification target's webhook URL (encrypted): empty when it
	// keeps none in Git.
	NotificationSecretPath(t spec.NotificationTarget) string
	// Retire marks the sync objects an older groundwork's layout
	// declared, before the commit that stops declaring them, so that
	// their successors take over what they applied; it returns those it
	// marked.
	Retire(ctx context.Context, names []string) ([]string, error)
	// SyncRoot is the object whose revision is the one the engine
	// fetched from the repository.
	SyncRoot() (kind, name string)
	// Notifications reads what the engine recorded of the notification
	// targets' last deliveries (the spec has a notifications block).
	Notifications(ctx context.Context, now time.Time) *Notifications
	// TakesOverBootstrap says whether up can take over an installation of
	// the engine that flux bootstrap made.
	TakesOverBootstrap() bool
	// TakeOverBootstrap prepares what flux bootstrap applied (its files
	// in dir of the repository's tree) to be taken over by the engine's
	// Helm release without anything being pruned.
	TakeOverBootstrap(ctx context.Context, tree map[string][]byte, dir string) error
	// Collisions are the user's objects (theirs) that objects the engine
	// makes from the repository's layout would collide with.
	Collisions(theirs []declared.Object) []declared.Collision
	// Retiring lists the sync objects an older groundwork's files
	// declared that the change removes and groundwork's new files (ours)
	// no longer declare.
	Retiring(changes []gitrepo.FileChange, ours []declared.Object) []string
	// Plan describes, for plan, what the engine adds to up's steps.
	Plan() Plan
}

// Plan is what an engine adds to plan's description of up's steps.
type Plan struct {
	// ReconcilerHow says who upgrades the engine once up installed it.
	ReconcilerHow string
	// ReconcilerInputs and SyncInputs are what, beyond the spec's gitops
	// block, shapes the release and the sync objects (for the steps'
	// fingerprints).
	ReconcilerInputs, SyncInputs []any
	// Files are the files and folders the seed step renders for the
	// engine, relative to the environment's folder, with what they hold.
	Files []actions.Action
	// AddonsDir is where the addons go, each as an AddonKind.
	AddonsDir, AddonKind string
	// CredentialsSecret is the Secret the Git credentials go into.
	CredentialsSecret string
	// Sync are the objects pointing the engine at the repository; Wait
	// what the wait step waits for.
	Sync, Wait []actions.Action
	// NotificationFiles are the seed step's files for the notification
	// targets; NotificationObjects the objects each target becomes.
	NotificationFiles   []actions.Action
	NotificationObjects func(spec.NotificationTarget) []string
}

// AttachOptions are what attaching needs beyond the files.
type AttachOptions struct {
	// NotificationURLs are the notification targets' webhook URLs by
	// target name (those whose variables are set).
	NotificationURLs map[string]string
}

// Deps are what an engine works with. Kube may be nil for what needs no
// cluster (Declared, DeclaredChart, SyncFile, Release, Plan).
type Deps struct {
	Env  *spec.Environment
	Kube *kube.Client
	// Credentials of the repository; nil when it needs none.
	Credentials *gitrepo.Credentials
	// IsAncestor lets a revision pushed after the awaited one count.
	IsAncestor func(ctx context.Context, ancestor, descendant string) (bool, error)
	// Logf gets verbose lines; nil drops them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults fills the optional fields.
func (d Deps) Defaults() Deps {
	if d.Logf == nil {
		d.Logf = func(string, ...any) {}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
