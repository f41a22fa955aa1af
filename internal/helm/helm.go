package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/postrender"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Release is a chart to have installed.
type Release struct {
	Name            string
	Namespace       string
	Chart           spec.Chart
	Version         string
	Values          map[string]any
	CreateNamespace bool
	// PostRenderer, when set, changes the rendered manifests before they
	// are applied (on install and upgrade).
	PostRenderer postrender.PostRenderer
}

// Outcome says what Ensure did.
type Outcome string

// Outcomes of Ensure.
const (
	Unchanged Outcome = "unchanged"
	Installed Outcome = "installed"
	Upgraded  Outcome = "upgraded"
)

// Installer installs releases into the cluster of Config.
type Installer struct {
	Config *action.Configuration
	// CacheDir holds downloaded charts and repository indexes.
	CacheDir string
	// PlainHTTP allows oci:// registries served without TLS (mirrors on
	// a private network, test registries).
	PlainHTTP bool
	// Timeout bounds the wait for the release's workloads.
	Timeout time.Duration
	// Explain describes why a release's workloads are not ready; nil
	// leaves Helm's own error as it is.
	Explain func(ctx context.Context, rel *release.Release) error
}

// Ensure installs r, upgrades it when its chart version or values differ,
// and otherwise does nothing.
func (i *Installer) Ensure(ctx context.Context, r Release) (Outcome, error) {
	current, err := i.current(r)
	if err != nil {
		return "", err
	}
	deployed := current != nil && current.Info.Status == release.StatusDeployed
	if deployed && r.Version != "" && upToDate(current, r, r.Version) {
		return Unchanged, nil
	}
	ch, err := i.Fetch(ctx, r)
	if err != nil {
		return "", err
	}
	// Without a pinned version the chart has to be fetched to learn which
	// version "latest" is; the same one already deployed is no change.
	if deployed && r.Version == "" && ch.Metadata != nil && upToDate(current, r, ch.Metadata.Version) {
		return Unchanged, nil
	}
	vals := copyValues(r.Values)
	timeout := i.timeout(ctx)
	if current != nil {
		status := current.Info.Status
		if status == release.StatusFailed && current.Version == 1 {
			// The first install failed (or was cancelled, which Helm
			// records as a failure): there is no good revision to
			// upgrade from, only whatever it created.
			status = release.StatusPendingInstall
		}
		switch status {
		case release.StatusPendingInstall, release.StatusUninstalling, release.StatusUninstalled:
			// An install interrupted before it finished (or an uninstall,
			// finished or not): nothing of it can be trusted, so remove it
			// and install afresh.
			un := action.NewUninstall(i.Config)
			un.Wait, un.Timeout = true, timeout
			if _, err := un.Run(r.Name); err != nil {
				return "", fmt.Errorf("remove the interrupted %s of release %s/%s: %w", current.Info.Status, r.Namespace, r.Name, err)
			}
			if err := i.removeHooks(current, timeout); err != nil {
				return "", fmt.Errorf("remove the hooks of the interrupted %s of release %s/%s: %w", current.Info.Status, r.Namespace, r.Name, err)
			}
			current = nil
		}
	}
	if current == nil {
		in := action.NewInstall(i.Config)
		in.ReleaseName, in.Namespace, in.CreateNamespace = r.Name, r.Namespace, r.CreateNamespace
		in.Wait, in.Timeout, in.Version = true, timeout, r.Version
		in.PostRenderer = r.PostRenderer
		rel, err := in.RunWithContext(ctx, ch, vals)
		if err != nil {
			return "", i.explain(ctx, r, rel, err)
		}
		return Installed, nil
	}
	if current.Info.Status.IsPending() {
		if err := i.recoverPending(r, current, timeout); err != nil {
			return "", i.explain(ctx, r, nil, err)
		}
	}
	up := action.NewUpgrade(i.Config)
	up.Namespace, up.Wait, up.Timeout, up.Version = r.Namespace, true, timeout, r.Version
	up.MaxHistory = maxHistory
	up.PostRenderer = r.PostRenderer
	// The release gets r.Values and nothing else. Without ResetValues, Helm
	// keeps the previous revision's values whenever r.Values is empty, so
	// values could never be removed (and upToDate would never hold again).
	up.ResetValues = true
	rel, err := up.RunWithContext(ctx, r.Name, ch, vals)
	if err != nil {
		return "", i.explain(ctx, r, rel, err)
	}
	return Upgraded, nil
}

// recoverPending recovers a release whose last revision an interrupted
// upgrade or rollback left pending. That revision is marked failed, as
// Flux's helm-controller unlocks a stale release (left pending, it would
// stay so in the history for good: Helm's rollback supersedes only deployed
// revisions). Then the release goes back to its deployed revision, which
// stays deployed until a rollback or upgrade finishes (not to the revision
// before the pending one, which may be a failed upgrade or the interrupted
// upgrade a killed recovery was rolling back from); the rollback removes
// what the interrupted revision added. With no deployed revision there is
// nothing to go back to, and the upgrade proceeds from the failed one.
func (i *Installer) recoverPending(r Release, current *release.Release, timeout time.Duration) error {
	// The record is read again: a fetch came between, and the release must
	// be the one this run found (a run holds the environment's lock, but
	// someone's helm may not).
	latest, err := i.Config.Releases.Last(r.Name)
	if err != nil {
		return fmt.Errorf("read release %s/%s: %w", r.Namespace, r.Name, err)
	}
	if latest.Version != current.Version || latest.Info.Status != current.Info.Status {
		return fmt.Errorf("release %s/%s changed while groundwork was reading it (revision %d %s, now revision %d %s): run again", r.Namespace, r.Name, current.Version, current.Info.Status, latest.Version, latest.Info.Status)
	}
	was := latest.Info.Status
	latest.Info.Status = release.StatusFailed
	latest.Info.Description = fmt.Sprintf("%s interrupted before it finished; marked failed by groundwork, which rolls back and upgrades again", was)
	if err := i.Config.Releases.Update(latest); err != nil {
		return fmt.Errorf("mark the interrupted %s of release %s/%s failed: %w", was, r.Namespace, r.Name, err)
	}
	deployed, err := i.Config.Releases.Deployed(r.Name)
	switch {
	case errors.Is(err, driver.ErrNoDeployedReleases):
		return nil
	case err != nil:
		return fmt.Errorf("read release %s/%s: %w", r.Namespace, r.Name, err)
	}
	rb := action.NewRollback(i.Config)
	rb.Version, rb.Wait, rb.Timeout, rb.MaxHistory = deployed.Version, true, timeout, maxHistory
	if err := rb.Run(r.Name); err != nil {
		return fmt.Errorf("recover from %s: roll back to revision %d: %w", was, deployed.Version, err)
	}
	return nil
}

// removeHooks deletes what the hooks of an interrupted release left (an
// install interrupted during its pre-install hook leaves the hook's Job,
// which uninstall does not remove), pods included, and waits until it is
// gone: the next install creates the same objects again.
func (i *Installer) removeHooks(rel *release.Release, timeout time.Duration) error {
	kc, ok := i.Config.KubeClient.(kube.InterfaceDeletionPropagation)
	waiter, canWait := i.Config.KubeClient.(kube.InterfaceExt)
	if !ok || !canWait {
		return nil
	}
	for _, h := range rel.Hooks {
		built, err := i.Config.KubeClient.Build(bytes.NewBufferString(h.Manifest), false)
		if err != nil {
			continue // a kind no longer served: nothing of it to remove
		}
		// Only what the hook left in a namespace, and not what it asked
		// Helm to keep.
		res := built.Filter(func(info *resource.Info) bool {
			acc, err := meta.Accessor(info.Object)
			return err == nil && info.Namespaced() && acc.GetAnnotations()[kube.ResourcePolicyAnno] != kube.KeepPolicy
		})
		if len(res) == 0 {
			continue
		}
		if _, errs := kc.DeleteWithPropagationPolicy(res, metav1.DeletePropagationForeground); len(errs) > 0 {
			for _, err := range errs {
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("delete hook %s: %w", h.Name, err)
				}
			}
		}
		if err := waiter.WaitForDelete(res, timeout); err != nil {
			return fmt.Errorf("wait for hook %s to go: %w", h.Name, err)
		}
	}
	return nil
}

// maxHistory is how many revisions of a release Helm keeps.
const maxHistory = 10

// timeout is the wait budget of a Helm action: Installer.Timeout (5 minutes
// by default), but no later than ctx's deadline. Helm's wait runs on its own
// clock in a goroutine that outlives a cancelled context and would go on
// writing the release record after Ensure has returned.
func (i *Installer) timeout(ctx context.Context) time.Duration {
	timeout := i.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Second))
	}
	return timeout
}

func (i *Installer) current(r Release) (*release.Release, error) {
	h := action.NewHistory(i.Config)
	h.Max = 1
	revs, err := h.Run(r.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(revs) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s/%s: %w", r.Namespace, r.Name, err)
	}
	latest := revs[0]
	for _, rel := range revs {
		if rel.Version > latest.Version {
			latest = rel
		}
	}
	return latest, nil
}

// upToDate compares the deployed chart and values with the wanted ones.
func upToDate(rel *release.Release, r Release, version string) bool {
	if rel.Chart == nil || rel.Chart.Metadata == nil || rel.Chart.Metadata.Name != r.Chart.Name || rel.Chart.Metadata.Version != version {
		return false
	}
	return reflect.DeepEqual(normalize(rel.Config), normalize(r.Values))
}

// normalize makes values comparable whatever their Go types (int vs
// float64 after a JSON round trip, nil vs empty map).
func normalize(v map[string]any) any {
	if len(v) == 0 {
		return map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func copyValues(v map[string]any) map[string]any {
	out, _ := normalize(v).(map[string]any)
	return out
}

// Fetch downloads the release's chart into the cache and loads it. Helm's
// getters take no context: a repository that stops answering would hold
// Fetch past the run's --timeout and Ctrl-C. Fetch returns when ctx ends
// (the download left behind ends with the process, or at the deadline each
// of its requests is given).
func (i *Installer) Fetch(ctx context.Context, r Release) (*chart.Chart, error) {
	type fetched struct {
		ch  *chart.Chart
		err error
	}
	done := make(chan fetched, 1)
	go func() {
		ch, err := i.fetch(ctx, r)
		done <- fetched{ch, err}
	}()
	select {
	case f := <-done:
		return f.ch, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("chart %s %s from %s: stopped while fetching it: %w", r.Chart.Name, r.Version, r.Chart.Repository, ctx.Err())
	}
}

// boundedGetters gives every request of Helm's getters the time left before
// ctx's deadline (none without one).
func boundedGetters(ctx context.Context, ps getter.Providers) getter.Providers {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ps
	}
	out := make(getter.Providers, len(ps))
	for n, p := range ps {
		newGetter := p.New
		p.New = func(opts ...getter.Option) (getter.Getter, error) {
			return newGetter(append(opts, getter.WithTimeout(max(time.Until(deadline), time.Millisecond)))...)
		}
		out[n] = p
	}
	return out
}

// staleAfter is when a fetch's temporary folder in the cache is left over:
// a fetch stopped by Ctrl-C returns at once, and the process may exit before
// its download gives up and removes its folder.
const staleAfter = time.Hour

// sweepStale removes the temporary folders fetches left in cacheDir (those
// older than staleAfter: a fetch of a run going on beside this one keeps
// its own).
func sweepStale(cacheDir string, now time.Time) {
	if cacheDir == "" {
		return // never the working directory
	}
	for _, pattern := range []string{"chart-*", "index-*"} {
		left, _ := filepath.Glob(filepath.Join(cacheDir, pattern))
		for _, p := range left {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() && now.Sub(fi.ModTime()) > staleAfter {
				os.RemoveAll(p)
			}
		}
	}
}

func (i *Installer) fetch(ctx context.Context, r Release) (*chart.Chart, error) {
	sweepStale(i.CacheDir, time.Now())
	settings := cli.New()
	settings.RepositoryCache = i.CacheDir + "/repository"
	settings.RepositoryConfig = i.CacheDir + "/repositories.yaml"
	getters := boundedGetters(ctx, getter.All(settings))
	if err := os.MkdirAll(settings.RepositoryCache, 0o755); err != nil {
		return nil, err
	}
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Getters:          getters,
		RepositoryConfig: settings.RepositoryConfig,
		RepositoryCache:  settings.RepositoryCache,
	}
	ref := r.Chart.Ref()
	if r.Chart.OCI() {
		opts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
		if i.PlainHTTP {
			opts = append(opts, registry.ClientOptPlainHTTP())
		}
		rc, err := registry.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		dl.RegistryClient = rc
		dl.Options = append(dl.Options, getter.WithRegistryClient(rc), getter.WithPlainHTTP(i.PlainHTTP))
	} else {
		url, err := findInRepo(settings.RepositoryCache, r.Chart.Repository, r.Chart.Name, r.Version, getters)
		if err != nil {
			return nil, fmt.Errorf("chart %s %s in %s: %w (check gitops.chart and the version)", r.Chart.Name, r.Version, r.Chart.Repository, err)
		}
		ref = url
	}
	dest, err := os.MkdirTemp(i.CacheDir, "chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dest)
	path, _, err := dl.DownloadTo(ref, r.Version, dest)
	if err != nil {
		return nil, fmt.Errorf("download chart %s %s from %s: %w", r.Chart.Name, r.Version, r.Chart.Repository, err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", path, err)
	}
	return ch, ctx.Err()
}

// findInRepo is repo.FindChartInRepoURL with the index downloaded under
// cacheDir: the Helm function keeps it in $HELM_CACHE_HOME (~/.cache/helm),
// outside Installer.CacheDir and possibly not writable. Each call gets a
// folder of its own, since the index is downloaded afresh every time and
// Helm writes it in place: two groundwork runs at once (parallel CI jobs)
// would otherwise read each other's half-written index.
func findInRepo(cacheDir, repoURL, name, version string, getters getter.Providers) (string, error) {
	cr, err := repo.NewChartRepository(&repo.Entry{Name: "groundwork-" + hash(repoURL), URL: repoURL}, getters)
	if err != nil {
		return "", err
	}
	if cr.CachePath, err = os.MkdirTemp(cacheDir, "index-"); err != nil {
		return "", err
	}
	defer os.RemoveAll(cr.CachePath)
	idxPath, err := cr.DownloadIndexFile()
	if err != nil {
		return "", fmt.Errorf("%q is not a valid chart repository or cannot be reached: %w", repoURL, err)
	}
	idx, err := repo.LoadIndexFile(idxPath)
	if err != nil {
		return "", err
	}
	cv, err := idx.Get(name, version)
	if err != nil {
		if version == "" {
			return "", fmt.Errorf("chart %q not found in the repository index", name)
		}
		return "", fmt.Errorf("chart %q version %q not found in the repository index", name, version)
	}
	if len(cv.URLs) == 0 {
		return "", fmt.Errorf("chart %q version %q has no download URL in the repository index", name, cv.Version)
	}
	return repo.ResolveReferenceURL(repoURL, cv.URLs[0])
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// explain turns a failed wait into an error that says which workloads are
// not ready and why, keeping Helm's error (usually a bare "context deadline
// exceeded") wrapped alongside. Other failures are returned as they are.
func (i *Installer) explain(ctx context.Context, r Release, rel *release.Release, err error) error {
	plain := fmt.Errorf("release %s/%s: %w", r.Namespace, r.Name, err)
	if i.Explain == nil || !waitFailed(err) {
		return plain
	}
	if rel == nil || rel.Manifest == "" {
		// Not every Helm path hands back the release it was waiting for:
		// the latest revision in storage is the one that was applied.
		if rel, _ = i.current(r); rel == nil {
			return plain
		}
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if why := i.Explain(ectx, rel); why != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("release %s/%s: interrupted while waiting for it; at that moment it was %w (helm: %w)", r.Namespace, r.Name, why, err)
		}
		return fmt.Errorf("release %s/%s did not become ready: %w (helm: %w)", r.Namespace, r.Name, why, err)
	}
	return plain
}

// waitFailed reports whether err is Helm giving up waiting for resources
// (its waiter returns the bare context error when its timeout expires) or
// the caller's context ending while Helm waited.
func waitFailed(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || wait.Interrupted(err)
}
