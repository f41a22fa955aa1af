package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/app"
	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
	"github.com/groundwork-dev/groundwork/internal/up"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// upEnv is an environment file for the harness: the existing-cluster path
// with the harness's kubeconfig, the reconciler chart from the harness's
// Helm repository, the GitOps repository on the harness's HTTP Git server
// (token auth), and a file key store in the test's folder.
const upEnv = `
variable "kubeconfig" { type = string }
variable "charts" { type = string }
variable "repo" { type = string }
variable "flux_version" {
  type    = string
  default = "2.17.0"
}

environment "harness" {
  cluster "existing" {
    kubeconfig = var.kubeconfig
  }
  gitops {
    version = var.flux_version
    chart { repository = var.charts }
    repository {
      url  = var.repo
      path = "clusters/harness"
      auth { token_env = "GIT_TOKEN" }
    }
    sync {
      interval = "10m"
      timeout  = "90s"
    }
  }
  secrets {
    key_store "file" { path = "keys/harness.agekey" }
  }
}
`

// upEnvWith is upEnv with more blocks (addons, notifications) in its
// environment block.
func upEnvWith(blocks string) string {
	i := strings.LastIndex(upEnv, "}")
	return upEnv[:i] + blocks + upEnv[i:]
}

// groundwork runs the CLI in-process as a user would, with its own
// environment variables.
type groundwork struct {
	t       *testing.T
	file    string
	vars    []string
	environ []string
	stdin   string
}

func (g *groundwork) run(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	g.t.Helper()
	var out, errOut bytes.Buffer
	io := &cmdutil.IOStreams{In: strings.NewReader(g.stdin), Out: &out, ErrOut: &errOut}
	full := append(append([]string{}, args...), g.vars...)
	code = app.Run(ctx, io, full, func() []string { return g.environ })
	return code, out.String(), errOut.String()
}

// fluxWorld is what the up, rebuild and ephemeral tests share: the flux2
// chart in the harness's Helm repository, an HTTP Git server (token auth)
// with an empty repository "fleet", and upEnv in a fresh folder.
type fluxWorld struct {
	charts  *harness.ChartRepo
	gitSrv  *harness.GitHTTPServer
	repoURL string
	dir     string
	file    string
}

func startFluxWorld(t *testing.T) *fluxWorld {
	t.Helper()
	w := &fluxWorld{charts: harness.StartChartRepo(t), dir: t.TempDir()}
	w.charts.AddUpstream(t, harness.FluxChart)
	w.gitSrv = harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: "t0ken"})
	w.repoURL = w.gitSrv.CreateRepo(t, "fleet")
	w.file = filepath.Join(w.dir, "harness.hcl")
	if err := os.WriteFile(w.file, []byte(upEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// startFluxCluster starts a control plane with the harness's Flux
// "kubelet", so that the flux2 chart's controllers run once installed.
func startFluxCluster(t *testing.T) *harness.ControlPlane {
	t.Helper()
	cp := harness.StartControlPlane(t)
	harness.StartKubelet(t, cp)
	return cp
}

// groundwork is the CLI on w's environment file, pointed at the cluster
// whose kubeconfig is given.
func (w *fluxWorld) groundwork(t *testing.T, kubeconfig string) *groundwork {
	return &groundwork{t: t, file: w.file,
		vars:    []string{"--var", "kubeconfig=" + kubeconfig, "--var", "charts=" + w.charts.URL(), "--var", "repo=" + w.repoURL},
		environ: []string{"GIT_TOKEN=t0ken", "HOME=" + w.dir}}
}

// up runs "up --output json" and decodes its document.
func (g *groundwork) up(ctx context.Context, extra ...string) (int, cmdup.Document, string) {
	g.t.Helper()
	code, out, errOut := g.run(ctx, append([]string{"up", g.file, "--output", "json", "--lock-timeout", "0"}, extra...)...)
	var doc cmdup.Document
	if out != "" {
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			g.t.Fatalf("up printed no JSON document (%v):\n%s\nstderr:\n%s", err, out, errOut)
		}
	}
	return code, doc, errOut
}

// TestUp proves groundwork up on the harness (existing-cluster path): bad
// inputs fail clearly and resume cleanly, interruptions at every step
// converge, the seeded repository matches its golden copy, Flux applies it
// (a SOPS-encrypted Secret included) and a second up changes nothing.
func TestUp(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	charts, gitSrv, repoURL, dir := w.charts, w.gitSrv, w.repoURL, w.dir
	g := w.groundwork(t, cp.AdminKubeconfig())
	stateDir := filepath.Join(dir, ".groundwork", "harness")

	t.Run("interrupted at each step, then resumed", func(t *testing.T) {
		// On a fresh cluster: Helm is cancelled in the middle of its
		// install (leaving a pending-install release), the wait in the
		// middle of waiting, the quick steps as they start.
		for _, at := range []struct {
			step  string
			delay time.Duration
		}{{"reconciler", 700 * time.Millisecond}, {"secrets", 0}, {"seed", 0}, {"sync", 0}, {"wait", 200 * time.Millisecond}} {
			interruptAt(ctx, t, g, stateDir, at.step, at.delay)
		}
	})

	t.Run("bad inputs fail clearly", func(t *testing.T) {
		cases := []struct {
			name    string
			vars    []string
			environ []string
			step    string
			want    []string
		}{
			{"missing chart version", []string{"--var", "flux_version=9.9.9"}, nil, "reconciler",
				[]string{"flux2 9.9.9", charts.URL()}},
			// The repository is read before the first step: these stop
			// up before it changes anything.
			{"wrong token", nil, []string{"GIT_TOKEN=wrong"}, "",
				[]string{repoURL, "credentials were refused", "nothing was changed"}},
			{"unreachable Git", []string{"--var", "repo=http://127.0.0.1:1/fleet.git"}, nil, "",
				[]string{"127.0.0.1:1", "connection refused", "nothing was changed"}},
			{"no token", nil, []string{"GIT_TOKEN="}, "",
				[]string{"GIT_TOKEN (token_env) is not set"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				bad := *g
				bad.t = t
				bad.vars = append(append([]string{}, g.vars...), c.vars...)
				bad.environ = append(append([]string{}, g.environ...), c.environ...)
				code, doc, errOut := bad.up(ctx)
				if code != 1 {
					t.Fatalf("exit %d, want 1\n%s", code, errOut)
				}
				if c.step != "" && (doc.Error == nil || doc.Error.Step != c.step) {
					t.Errorf("failed step: %+v, want %s", doc.Error, c.step)
				}
				for _, w := range c.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("error lacks %q:\n%s", w, errOut)
					}
				}
				if strings.Contains(errOut, "t0ken") {
					t.Errorf("the token leaked into the output:\n%s", errOut)
				}
				t.Logf("%s:\n%s", c.name, errOut)
			})
		}
	})

	t.Run("converges", func(t *testing.T) {
		start := time.Now()
		code, doc, errOut := g.up(ctx)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		t.Logf("up after the interruptions: %s (revision %s)\n%s", time.Since(start).Round(time.Millisecond), doc.Revision, errOut)
		assertFluxApplied(ctx, t, cp, doc.Revision)
		golden.Assert(t, "testdata/up-repo.golden", repoSnapshot(t, repoURL, gitSrv, map[string]string{
			charts.URL(): "CHARTS_URL", repoURL: "REPO_URL", recipient(t, dir): "AGE_RECIPIENT"}))
	})

	t.Run("second up changes nothing", func(t *testing.T) {
		head := headOf(t, gitSrv)
		helmRev := releaseRevision(t, cp)
		start := time.Now()
		code, doc, errOut := g.up(ctx)
		took := time.Since(start)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		if doc.Changed {
			t.Errorf("a second up changed something: %+v", doc.Steps)
		}
		for _, s := range doc.Steps {
			if s.State != string(actions.StateSkipped) {
				t.Errorf("step %s: %s, want unchanged", s.Name, s.State)
			}
		}
		if h := headOf(t, gitSrv); h != head {
			t.Errorf("the repository moved from %s to %s", head, h)
		}
		if r := releaseRevision(t, cp); r != helmRev {
			t.Errorf("the Helm release went from revision %d to %d", helmRev, r)
		}
		t.Logf("FIGURE no-op up on a converged environment: %s wall (up's own measure %d ms)\n%s", took.Round(time.Millisecond), doc.TookMS, errOut)

		// The same as a process of its own, for its wall time and peak
		// memory (figures, not assertions).
		bin := filepath.Join(t.TempDir(), "groundwork")
		build := exec.Command("go", "build", "-o", bin, "github.com/groundwork-dev/groundwork/cmd/groundwork")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		for i := 0; i < 3; i++ {
			cmd := exec.CommandContext(ctx, bin, append([]string{"up", g.file}, g.vars...)...)
			cmd.Env = append(os.Environ(), g.environ...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("groundwork up: %v\n%s", err, out)
			}
			ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			t.Logf("FIGURE no-op up as a process: %s wall, peak RSS %.1f MiB", time.Since(start).Round(time.Millisecond), float64(ru.Maxrss)/1024)
		}
	})

	t.Run("apps and SOPS secrets from Git", func(t *testing.T) {
		wd := harness.CloneGitWorkdir(t, repoURL, gitSrv.BasicAuth())
		wd.WriteFile(t, "clusters/harness/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n  - shop-secret.enc.yaml\n")
		wd.WriteFile(t, "clusters/harness/apps/shop.yaml", `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
  namespace: shop
data:
  colour: teal
`)
		enc := harness.SopsEncryptYAML(t, recipient(t, dir), []byte(`apiVersion: v1
kind: Secret
metadata:
  name: shop-db
  namespace: shop
stringData:
  password: correct-horse
`))
		if bytes.Contains(enc, []byte("correct-horse")) {
			t.Fatal("sops left the value in plaintext")
		}
		wd.WriteFile(t, "clusters/harness/apps/shop-secret.enc.yaml", string(enc))
		wd.CommitAndPush(t, "shop app")

		// And one through groundwork: the value comes on standard input.
		in := *g
		in.t, in.stdin = t, "s3cr3t-from-stdin\n"
		code, out, errOut := in.run(ctx, "secret", "set", g.file, "shop/api", "token=-", "user=shop")
		if code != 0 || !strings.Contains(out, "Committed Secret shop/api (keys: token, user)") {
			t.Fatalf("secret set: exit %d\n%s%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, "s3cr3t") {
			t.Errorf("the value leaked into the output:\n%s%s", out, errOut)
		}
		start := time.Now()
		code, doc, errOut := g.up(ctx)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		t.Logf("FIGURE up after a user commit, until Flux applied it: %s", time.Since(start).Round(time.Millisecond))
		s, err := cp.Client().CoreV1().Secrets("shop").Get(ctx, "shop-db", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the SOPS Secret was not applied: %v", err)
		}
		if got := string(s.Data["password"]); got != "correct-horse" {
			t.Errorf("decrypted password %q", got)
		}
		if _, err := cp.Client().CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{}); err != nil {
			t.Errorf("configmap: %v", err)
		}
		api, err := cp.Client().CoreV1().Secrets("shop").Get(ctx, "api", metav1.GetOptions{})
		if err != nil || string(api.Data["token"]) != "s3cr3t-from-stdin" || string(api.Data["user"]) != "shop" {
			t.Errorf("the Secret from secret set: %v %v", api, err)
		}
		if files := string(repoSnapshot(t, repoURL, gitSrv, nil)); strings.Contains(files, "s3cr3t") || strings.Contains(files, "correct-horse") {
			t.Errorf("a secret value is in the repository in plaintext")
		}
		assertFluxApplied(ctx, t, cp, doc.Revision)
	})

	t.Run("status", func(t *testing.T) {
		code, doc, errOut := g.status(ctx)
		if code != 0 || doc["healthy"] != true {
			t.Fatalf("status: exit %d, %v\n%s", code, doc, errOut)
		}
		_, out, _ := g.run(ctx, "status", g.file)
		for _, w := range []string{"✓ cluster", "✓ reconciler  chart flux2 2.17.0", "✓ sync        6/6 Flux objects ready", "last run    up succeeded"} {
			if !strings.Contains(out, w) {
				t.Errorf("status lacks %q:\n%s", w, out)
			}
		}
		t.Logf("status:\n%s", out)
	})

	t.Run("a second run waits for the lock or fails clearly", func(t *testing.T) {
		lock, err := actions.AcquireLock(ctx, stateDir, "pid 1, test holder", false)
		if err != nil {
			t.Fatal(err)
		}
		code, _, errOut := g.up(ctx)
		if code != 1 || !strings.Contains(errOut, "holds the lock") || !strings.Contains(errOut, "test holder") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
		go func() { time.Sleep(500 * time.Millisecond); lock.Release() }()
		code, _, errOut = g.run(ctx, "up", g.file, "--lock-timeout", "1m")
		if code != 0 || !strings.Contains(errOut, "Waiting up to 1m0s") {
			t.Errorf("waiting for the lock: exit %d\n%s", code, errOut)
		}
	})

	t.Run("down uninstalls and purges, leaving applied objects", func(t *testing.T) {
		code, _, errOut := g.run(ctx, "down", g.file, "--uninstall", "--purge-repo")
		if code != 2 || !strings.Contains(errOut, "--yes") {
			t.Fatalf("down without --yes: exit %d\n%s", code, errOut)
		}
		code, out, errOut := g.run(ctx, "down", g.file, "--uninstall", "--purge-repo", "--yes")
		if code != 0 {
			t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
		}
		t.Logf("down:\n%s%s", out, errOut)
		cfg := harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace)
		if _, err := action.NewGet(cfg).Run("flux2"); err == nil {
			t.Error("the flux2 release is still installed")
		}
		dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
		if l, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
			t.Errorf("Kustomizations left: %v %v", l, err)
		}
		if _, err := cp.Client().CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{}); err != nil {
			t.Errorf("down removed what Flux applied: %v", err)
		}
		if files := snapshotFiles(t, repoURL, gitSrv); strings.Contains(files, "clusters/harness/") {
			t.Errorf("the environment's folder is still in the repository:\n%s", files)
		}
		if _, err := os.Stat(filepath.Join(dir, "keys", "harness.agekey")); err != nil {
			t.Errorf("down removed the age key: %v", err)
		}
		code, _, errOut = g.status(ctx)
		// Nothing installed, nothing recorded: status says the environment
		// is not brought up (and up makes it again).
		if code != 1 || !strings.Contains(errOut, "has not been brought up") {
			t.Errorf("status after down: exit %d\n%s", code, errOut)
		}
	})
}

// statusDoc runs status --output json.
func (g *groundwork) status(ctx context.Context) (int, map[string]any, string) {
	g.t.Helper()
	code, out, errOut := g.run(ctx, "status", g.file, "--output", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		g.t.Fatalf("status printed no JSON document (%v):\n%s\n%s", err, out, errOut)
	}
	return code, doc, errOut
}

// interruptAt runs up's steps and cancels the run once the named step has
// started (after a moment, so that Helm, Git or the wait are under way),
// then checks the journal recorded the interruption.
func interruptAt(ctx context.Context, t *testing.T, g *groundwork, stateDir, step string, delay time.Duration) {
	t.Helper()
	res := spec.Load(g.file, spec.Options{Vars: []string{g.vars[1], g.vars[3], g.vars[5]}, Environ: g.environ})
	if res.Diags.HasErrors() {
		t.Fatalf("spec: %v", res.Diags)
	}
	j, err := actions.OpenJournal(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := up.New(up.Options{Env: res.Env, StateDir: stateDir, Environ: g.environ, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rep := &cancelAt{step: step, delay: delay, cancel: cancel}
	_, err = (&actions.Runner{Command: "up", Journal: j, Reporter: rep}).Run(rctx, run.Steps())
	var se *actions.StepError
	if !errors.As(err, &se) || se.Step != step {
		t.Fatalf("the run was to be interrupted in step %s; it ended with %v", step, err)
	}
	j2, _ := actions.OpenJournal(stateDir)
	t.Logf("interrupted at %s: %v (journal: run %s)", se.Step, err, j2.Run.Outcome)
	if j2.Run.Outcome != "interrupted" && j2.Run.Outcome != "failed" {
		t.Errorf("journal outcome %q after an interruption", j2.Run.Outcome)
	}
}

type cancelAt struct {
	step   string
	delay  time.Duration
	cancel func()
}

func (c *cancelAt) StepStarted(d actions.Description) {
	switch {
	case d.Name != c.step:
	case c.delay == 0:
		c.cancel()
	default:
		go func() { time.Sleep(c.delay); c.cancel() }()
	}
}

func (c *cancelAt) StepFinished(actions.Description, actions.StepState, time.Duration, error) {}

// assertFluxApplied checks the GitRepository fetched revision and every
// Kustomization applied it and is ready.
func assertFluxApplied(ctx context.Context, t *testing.T, cp *harness.ControlPlane, revision string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	gr, err := dyn.Resource(gitRepositoryGVR).Namespace(harness.FluxNamespace).Get(ctx, "flux-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := nested(gr.Object, "status", "artifact", "revision"); got != revision {
		t.Errorf("GitRepository at %q, want %q", got, revision)
	}
	var names []string
	for _, k := range listKustomizations(ctx, t, cp) {
		names = append(names, k.GetName())
		if got := nested(k.Object, "status", "lastAppliedRevision"); got != revision {
			t.Errorf("Kustomization %s applied %q, want %q", k.GetName(), got, revision)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "flux-system,groundwork-apps,groundwork-infrastructure,groundwork-secrets" {
		t.Errorf("Kustomizations %v", names)
	}
}

// repoSnapshot clones the repository and returns every file, with the
// values that change from run to run replaced by names.
func repoSnapshot(t *testing.T, url string, srv *harness.GitHTTPServer, replace map[string]string) []byte {
	t.Helper()
	wd := harness.CloneGitWorkdir(t, url, srv.BasicAuth())
	var buf bytes.Buffer
	err := filepath.Walk(wd.Dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			if info != nil && info.IsDir() && info.Name() == ".git" {
				return filepath.SkipDir
			}
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(wd.Dir, p)
		buf.WriteString("=== " + filepath.ToSlash(rel) + "\n")
		buf.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	keys := make([]string, 0, len(replace))
	for k := range replace {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		out = strings.ReplaceAll(out, k, replace[k])
	}
	return []byte(out)
}

func snapshotFiles(t *testing.T, url string, srv *harness.GitHTTPServer) string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(string(repoSnapshot(t, url, srv, nil)), "\n") {
		if n, ok := strings.CutPrefix(l, "=== "); ok {
			names = append(names, n)
		}
	}
	return strings.Join(names, "\n")
}

func recipient(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "keys", "harness.agekey"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(l, "# public key: "); ok {
			return r
		}
	}
	t.Fatalf("no public key line in the key file")
	return ""
}

func headOf(t *testing.T, srv *harness.GitHTTPServer) string {
	t.Helper()
	b, err := exec.Command("git", "--git-dir", srv.RepoDir("fleet"), "rev-parse", "refs/heads/main").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func releaseRevision(t *testing.T, cp *harness.ControlPlane) int {
	t.Helper()
	cfg := harness.HelmConfig(t, cp.AdminKubeconfig(), harness.FluxNamespace)
	rel, err := action.NewGet(cfg).Run("flux2")
	if err != nil {
		t.Fatal(err)
	}
	return rel.Version
}
