package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/actions"
	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// The fault suite: the real groundwork binary, built once with the
// faultpoints tag (internal/faults), run as a process of its own and killed
// with SIGKILL at named points inside its steps, then run again. Every case
// checks what a killed run may leave (the kernel's lock released, the
// journal readable) and what the rerun must reach: one Helm release,
// deployed, nothing pending; no empty and no duplicate commit in the
// repository; the journal's last run succeeded with every step complete
// and no temporary file beside it; Flux applied the head. The outcomes are
// the table in tests/README.md (go test ./tests/e2e -run TestFaults
// -update rewrites it; otherwise the test fails when they differ).

// faultTable collects one row per case for tests/README.md.
type faultTable struct {
	mu   sync.Mutex
	rows []faultRow
}

type faultRow struct{ fault, command, outcome string }

func (ft *faultTable) add(fault, command, outcome string) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rows = append(ft.rows, faultRow{fault, command, outcome})
}

// faultWorld is the harness a case runs on, and the binary.
type faultWorld struct {
	t        *testing.T
	bin      string
	w        *fluxWorld
	cp       *harness.ControlPlane
	vars     []string
	environ  []string
	stateDir string
	table    *faultTable
}

// procResult is how one run of the binary ended.
type procResult struct {
	killed       bool // by SIGKILL: the fault point was reached
	code         int
	stdout, errs string
	took         time.Duration
}

// buildFaultBinary builds groundwork with its kill points.
func buildFaultBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "groundwork")
	start := time.Now()
	out, err := exec.Command("go", "build", "-tags", "faultpoints", "-o", bin, "github.com/groundwork-dev/groundwork/cmd/groundwork").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags faultpoints: %v\n%s", err, out)
	}
	t.Logf("FIGURE build with kill points: %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// start runs groundwork args with the kill point (empty: none); it does not
// wait. --timeout bounds every run: a fault must end in an error, not a
// hang.
func (f *faultWorld) start(ctx context.Context, point string, extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	full := append(append([]string{}, args...), f.vars...)
	if !strings.Contains(strings.Join(args, " "), "--timeout") {
		full = append(full, "--timeout", "3m")
	}
	cmd := exec.CommandContext(ctx, f.bin, full...)
	cmd.Env = append(append(append(os.Environ(), f.environ...), "GROUNDWORK_FAULTPOINT="+point), extraEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd, &out, &errOut
}

func finish(cmd *exec.Cmd, out, errOut *bytes.Buffer, started time.Time) procResult {
	err := cmd.Wait()
	r := procResult{stdout: out.String(), errs: errOut.String(), took: time.Since(started)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
		r.code = ee.ExitCode()
	}
	return r
}

func (f *faultWorld) run(ctx context.Context, point string, extraEnv []string, args ...string) procResult {
	started := time.Now()
	cmd, out, errOut := f.start(ctx, point, extraEnv, args...)
	return finish(cmd, out, errOut, started)
}

// kill runs groundwork args and expects it killed at point.
func (f *faultWorld) kill(ctx context.Context, t *testing.T, point string, args ...string) procResult {
	t.Helper()
	r := f.run(ctx, point, nil, args...)
	if !r.killed {
		t.Fatalf("%s never reached the kill point %s: exit %d\n%s%s", args[0], point, r.code, r.stdout, r.errs)
	}
	f.afterKill(t)
	return r
}

// afterKill checks what a killed run may leave: the kernel released the
// lock (no stale lock), and the journal is whole JSON (written atomically).
func (f *faultWorld) afterKill(t *testing.T) {
	t.Helper()
	if lf, err := os.OpenFile(filepath.Join(f.stateDir, actions.LockFile), os.O_RDWR, 0); err == nil {
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Errorf("the lock is still held after the process died: %v", err)
		}
		lf.Close()
	}
	if b, err := os.ReadFile(filepath.Join(f.stateDir, actions.JournalFile)); err == nil {
		var j actions.Journal
		if err := json.Unmarshal(b, &j); err != nil {
			t.Errorf("the killed run left a torn journal: %v\n%s", err, b)
		}
	}
}

// up runs up with --output json and, unless killed, decodes its document.
func (f *faultWorld) up(ctx context.Context, t *testing.T, point string, extra ...string) (procResult, cmdup.Document) {
	t.Helper()
	r := f.run(ctx, point, nil, append([]string{"up", f.w.file, "--output", "json", "--lock-timeout", "0"}, extra...)...)
	var doc cmdup.Document
	if !r.killed && r.stdout != "" {
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("up printed no JSON document (%v):\n%s\n%s", err, r.stdout, r.errs)
		}
	}
	return r, doc
}

// converged runs up again without a fault and checks everything the rerun
// must reach; it returns the outcome for the table.
func (f *faultWorld) converged(ctx context.Context, t *testing.T, since string, commits int, extra ...string) string {
	t.Helper()
	r, doc := f.up(ctx, t, "", extra...)
	if r.code != 0 {
		t.Fatalf("the rerun failed: exit %d\n%s", r.code, r.errs)
	}
	var problems []string
	problems = append(problems, f.journalProblems()...)
	rev, hp := f.releaseProblems(ctx)
	problems = append(problems, hp...)
	problems = append(problems, f.repoProblems(since, commits)...)
	assertFluxApplied(ctx, t, f.cp, doc.Revision)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 || t.Failed() {
		return "rerun did not converge: " + strings.Join(problems, "; ")
	}
	t.Logf("rerun converged in %s (Helm revision %d)", r.took.Round(time.Millisecond), rev)
	return fmt.Sprintf("rerun converges (Helm release revision %d)", rev)
}

// journalProblems: the last run succeeded, every step completed, nothing
// half-written beside the journal.
func (f *faultWorld) journalProblems() []string {
	var out []string
	j, err := actions.OpenJournal(f.stateDir)
	if err != nil {
		return []string{err.Error()}
	}
	if j.Run.Outcome != "succeeded" {
		out = append(out, fmt.Sprintf("journal: last run %q", j.Run.Outcome))
	}
	for name, s := range j.Steps {
		if s.State != actions.StateDone && s.State != actions.StateSkipped {
			out = append(out, fmt.Sprintf("journal: step %s is %s", name, s.State))
		}
	}
	left, _ := filepath.Glob(filepath.Join(f.stateDir, ".journal-*"))
	if len(left) > 0 {
		out = append(out, fmt.Sprintf("half-written journal files left in the state directory: %v", left))
	}
	return out
}

// releaseProblems reads the Helm release's Secrets: one release, its last
// revision deployed, none pending.
func (f *faultWorld) releaseProblems(ctx context.Context) (int, []string) {
	l, err := f.cp.Client().CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		return 0, []string{err.Error()}
	}
	var out []string
	names := map[string]bool{}
	for _, s := range l.Items {
		names[s.Labels["name"]] = true
		if strings.HasPrefix(s.Labels["status"], "pending") {
			out = append(out, fmt.Sprintf("Helm release %s revision %s is %s", s.Labels["name"], s.Labels["version"], s.Labels["status"]))
		}
	}
	last, lastStatus := newestRevision(l.Items)
	if len(names) != 1 || !names["flux2"] {
		out = append(out, fmt.Sprintf("Helm releases in %s: %v, want flux2 alone", harness.FluxNamespace, names))
	}
	if lastStatus != "deployed" {
		out = append(out, fmt.Sprintf("Helm release flux2's last revision %d is %q, want deployed", last, lastStatus))
	}
	return last, out
}

// chartVersion is the chart of the reconciler's release, as Helm's storage
// has it.
func (f *faultWorld) chartVersion(t *testing.T) string {
	t.Helper()
	_, v := helmReleaseRevision(t, f.cp, harness.FluxNamespace, harness.FluxChart.Name)
	return v
}

// lastRevisionStatus is the status of the reconciler's release's newest
// revision, read from its Secrets (Helm's status action reports the last
// deployed one).
func (f *faultWorld) lastRevisionStatus(ctx context.Context, t *testing.T) string {
	t.Helper()
	l, err := f.cp.Client().CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + harness.FluxChart.Name})
	if err != nil {
		t.Fatal(err)
	}
	_, status := newestRevision(l.Items)
	return status
}

// newestRevision is the highest revision among a release's Secrets, and its
// status, as Helm labels them.
func newestRevision(secrets []corev1.Secret) (int, string) {
	last, status := 0, ""
	for _, s := range secrets {
		var v int
		fmt.Sscan(s.Labels["version"], &v)
		if v > last {
			last, status = v, s.Labels["status"]
		}
	}
	return last, status
}

// repoProblems: no commit without a change on the branch, and since the
// head before the case exactly the commits it should have made (a seed
// commit pushed by the killed run is not made again by the rerun).
func (f *faultWorld) repoProblems(since string, want int) []string {
	gitDir := f.w.gitSrv.RepoDir("fleet")
	var out []string
	revs, err := exec.Command("git", "--git-dir", gitDir, "rev-list", "--no-merges", "refs/heads/main").Output()
	if err != nil {
		return []string{fmt.Sprintf("git rev-list: %v", err)}
	}
	for _, c := range strings.Fields(string(revs)) {
		// diff-tree --quiet exits 0 when the commit changes nothing (a
		// root commit is compared with the empty tree).
		if exec.Command("git", "--git-dir", gitDir, "diff-tree", "--root", "--quiet", c).Run() == nil {
			out = append(out, "empty commit "+c)
		}
	}
	if since == "" || want < 0 {
		return out
	}
	log, err := exec.Command("git", "--git-dir", gitDir, "log", "--format=%h %s", since+"..refs/heads/main").Output()
	if err != nil {
		return append(out, fmt.Sprintf("git log: %v", err))
	}
	n := 0
	if l := strings.TrimSpace(string(log)); l != "" {
		n = len(strings.Split(l, "\n"))
	}
	if n != want {
		out = append(out, fmt.Sprintf("%d commits since the case began, want %d:\n%s", n, want, log))
	}
	return out
}

// failingUp runs up with a dependency fault set (between set and clear),
// and checks that it ends with exit 1 and an error saying every want; it
// returns the outcome for the table.
func (f *faultWorld) failingUp(ctx context.Context, t *testing.T, what string, set, clear func(), timeout string, want []string, extra ...string) string {
	t.Helper()
	set()
	r := f.run(ctx, "", nil, append([]string{"up", f.w.file, "--lock-timeout", "0", "--timeout", timeout}, extra...)...)
	clear()
	outcome := "clear error within --timeout"
	if r.code != 1 {
		t.Errorf("up with %s: exit %d, want 1\n%s", what, r.code, r.errs)
		outcome = fmt.Sprintf("FAILED: exit %d", r.code)
	}
	for _, w := range want {
		if !strings.Contains(r.errs, w) {
			t.Errorf("the error lacks %q:\n%s", w, r.errs)
			outcome = "FAILED: unclear error"
		}
	}
	t.Logf("up with %s ended after %s:\n%s", what, r.took.Round(time.Millisecond), r.errs)
	return outcome
}

// setSecret writes the SOPS Secret default/api with groundwork's secret set.
func (f *faultWorld) setSecret(ctx context.Context, t *testing.T) {
	t.Helper()
	set := exec.CommandContext(ctx, f.bin, append([]string{"secret", "set", f.w.file, "default/api", "token=-"}, f.vars...)...)
	set.Env = append(os.Environ(), f.environ...)
	set.Stdin = strings.NewReader("s3cr3t\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
}

// head is the branch's commit, empty before the first push.
func (f *faultWorld) head() string {
	b, err := exec.Command("git", "--git-dir", f.w.gitSrv.RepoDir("fleet"), "rev-parse", "--verify", "-q", "refs/heads/main").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// faultProxy is a reverse proxy in front of one of the harness's servers
// that injects the fault its mode names (the server behind it is real; the
// proxy only withholds it). inject answers a request itself, or returns
// false to pass it through.
type faultProxy struct {
	mu   sync.Mutex
	mode string
	srv  *httptest.Server
	// backend passes a request to the real server.
	backend http.Handler
	// landed counts requests the real server handled whose answer the
	// proxy withheld.
	landed atomic.Int32
}

func startFaultProxy(t *testing.T, backend string, inject func(g *faultProxy, mode string, w http.ResponseWriter, r *http.Request) bool) *faultProxy {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	g := &faultProxy{backend: httputil.NewSingleHostReverseProxy(u)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		mode := g.mode
		g.mu.Unlock()
		if mode != "" && inject(g, mode, w, r) {
			return
		}
		g.backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *faultProxy) set(mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = mode
}

// hang holds a request until its client gives up.
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Minute):
	}
}

// gitFault: the Git host answers 500 to pushes ("push-500"), takes a push
// and never answers it ("push-hang": the pack is sent, nothing comes back),
// applies a push and loses its answer ("push-answer-lost": the branch
// moved, the client never hears so), or hangs on everything else
// ("clone-hang").
func gitFault(g *faultProxy, mode string, w http.ResponseWriter, r *http.Request) bool {
	push := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
	switch {
	case mode == "push-500" && push && r.Method == http.MethodPost:
		http.Error(w, "injected fault", http.StatusInternalServerError)
		return true
	case mode == "push-hang" && push && r.Method == http.MethodPost:
		io.Copy(io.Discard, r.Body) // the whole pack arrives; no answer
		hang(r)
		return true
	case mode == "push-answer-lost" && push && r.Method == http.MethodPost:
		g.backend.ServeHTTP(httptest.NewRecorder(), r)
		g.landed.Add(1)
		hang(r)
		return true
	case mode == "clone-hang" && !push:
		hang(r)
		return true
	}
	return false
}

// chartFault: the chart repository answers every request with 404 or 500,
// or hangs.
func chartFault(_ *faultProxy, mode string, w http.ResponseWriter, r *http.Request) bool {
	switch mode {
	case "404":
		http.NotFound(w, r)
	case "500":
		http.Error(w, "injected fault", http.StatusInternalServerError)
	case "hang":
		hang(r)
	default:
		return false
	}
	return true
}

// pointIn names the first hit of point after the step marker in a log of
// points (GROUNDWORK_FAULTPOINT_LOG): "kube:applied#3".
func pointIn(t *testing.T, logFile, step, point string) string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	n, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		if l == point {
			n++
			if in {
				return fmt.Sprintf("%s#%d", point, n)
			}
		}
		if l == "step:"+step {
			in = true
		}
	}
	t.Fatalf("no %s after step:%s in the points up passed:\n%s", point, step, b)
	return ""
}

// TestFaults is the fault matrix. One control plane and one Git server for
// up, keys rotate and down in turn; each case kills one run and reruns.
func TestFaults(t *testing.T) {
	skipIfShort(t)
	suiteStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	table := &faultTable{}
	bin := buildFaultBinary(t)

	matrixStart := time.Now()
	cp := harness.StartControlPlane(t)
	kubelet := harness.StartKubelet(t, cp)
	w := startFluxWorld(t)
	// Everything reaches Git through the proxy, which passes requests
	// through until a case injects a fault.
	gf := startFaultProxy(t, w.gitSrv.URL(), gitFault)
	w.repoURL = gf.srv.URL + "/fleet.git"
	// The chart repository too (Flux's source-controller reads it as well).
	cf := startFaultProxy(t, w.charts.URL(), chartFault)
	f := &faultWorld{t: t, bin: bin, w: w, cp: cp, table: table,
		vars:     []string{"--var", "kubeconfig=" + cp.AdminKubeconfig(), "--var", "charts=" + cf.srv.URL, "--var", "repo=" + w.repoURL},
		environ:  []string{"GIT_TOKEN=t0ken", "HOME=" + w.dir},
		stateDir: filepath.Join(w.dir, ".groundwork", "harness")}

	// --- up ------------------------------------------------------------
	// The first case is on the empty cluster: Helm's install is under way.
	// The others run on the converged environment; the seed cases are made
	// to have work where they are killed (a file groundwork seeds removed
	// from the repository: a seed commit). A Helm upgrade by groundwork is
	// not among them (once installed, Flux upgrades itself from Git): it
	// has a case of its own below.
	version := harness.FluxChart.Version
	withVersion := func() []string { return []string{"--var", "flux_version=" + version} }
	pointsLog := filepath.Join(w.dir, "points.log")
	perturbSeed := func(t *testing.T) {
		wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
		wd.Remove(t, "clusters/harness/groundwork/sync.yaml")
		wd.CommitAndPush(t, "a user removes a file groundwork seeds")
	}
	upCases := []struct {
		name, point string
		before      func(t *testing.T)
		commits     int // what the killed run and the rerun commit together
	}{
		{"mid Helm install (objects created, release pending-install)", "helm:wait", nil, -1},
		{"cluster step started", "step:cluster", nil, 0},
		{"kubeconfig step started", "step:kubeconfig", nil, 0},
		{"reconciler step started", "step:reconciler", nil, 0},
		{"reconciler step applied, not recorded", "step:reconciler:applied", nil, 0},
		{"secrets step started", "step:secrets", nil, 0},
		{"secrets applied, not recorded", "step:secrets:applied", nil, 0},
		{"seed committed, not pushed", "git:committed", perturbSeed, 1},
		{"seed pushed, not recorded", "step:seed:applied", perturbSeed, 1},
		{"sync step started", "step:sync", nil, 0},
		{"mid server-side apply (first object applied)", "sync-ssa", nil, 0},
		{"wait step started", "step:wait", nil, 0},
		{"wait done, not recorded", "step:wait:applied", perturbSeed, 1},
		{"journal written, not yet renamed into place", "journal:save#2", nil, 0},
	}
	t.Run("up", func(t *testing.T) {
		for i, c := range upCases {
			ok := t.Run(c.name, func(t *testing.T) {
				if c.before != nil {
					c.before(t)
				}
				since := f.head()
				point := c.point
				if point == "sync-ssa" {
					point = pointIn(t, pointsLog, "sync", "kube:applied")
				}
				r := f.kill(ctx, t, point, append([]string{"up", f.w.file, "--lock-timeout", "0"}, withVersion()...)...)
				t.Logf("killed at %s after %s", point, r.took.Round(time.Millisecond))
				var out string
				if i == 0 {
					// Record the points a whole up passes, for the cases
					// that need a hit number.
					os.Remove(pointsLog)
					rr := f.run(ctx, "", []string{"GROUNDWORK_FAULTPOINT_LOG=" + pointsLog}, append([]string{"up", f.w.file, "--lock-timeout", "0"}, withVersion()...)...)
					if rr.code != 0 {
						t.Fatalf("rerun: exit %d\n%s", rr.code, rr.errs)
					}
				}
				out = f.converged(ctx, t, since, c.commits, withVersion()...)
				table.add("SIGKILL: "+c.name+" (`"+point+"`)", "up", out)
			})
			if !ok && tableOutcome(table, c.name) == "" {
				table.add("SIGKILL: "+c.name+" (`"+c.point+"`)", "up", "FAILED")
			}
		}
	})

	// --- dependency faults ---------------------------------------------------
	// The Git host fails; up must end with a clear error within --timeout
	// (no hang), and once the fault is gone a rerun converges.
	t.Run("Git host", func(t *testing.T) {
		for _, c := range []struct {
			name, mode, timeout string
			want                []string
		}{
			{"answers 500 to the seed push", "push-500", "3m", []string{"step seed", "push to " + w.repoURL, "500"}},
			{"hangs mid-push (takes the pack, never answers)", "push-hang", "30s", []string{"timed out after 30s in step seed (--timeout)"}},
			// up reads the repository among its prerequisites, before its
			// first change; stopped there by --timeout it says so, naming
			// the check that had not answered.
			{"hangs on clone", "clone-hang", "20s", []string{"timed out after 20s while checking the prerequisites (no answer yet from: GitOps repository) (--timeout)", "nothing was changed"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				perturbSeed(t)
				since := f.head()
				outcome := f.failingUp(ctx, t, "the Git host failing ("+c.mode+")", func() { gf.set(c.mode) }, func() { gf.set("") }, c.timeout, c.want, withVersion()...)
				table.add("Git host "+c.name, "up", outcome+"; "+f.converged(ctx, t, since, 1, withVersion()...))
			})
		}
		// The lid closes mid-push: the host applied the pack, its answer
		// never reached up, and up is killed waiting for it. The rerun must
		// find its commit on the branch and not make it again.
		t.Run("SIGKILL mid-push, the pack applied, its answer lost", func(t *testing.T) {
			perturbSeed(t)
			since := f.head()
			gf.landed.Store(0)
			gf.set("push-answer-lost")
			started := time.Now()
			cmd, out, errOut := f.start(ctx, "", nil, append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
			waitFor(ctx, t, "the host to apply up's push", func(context.Context) error {
				if gf.landed.Load() == 0 {
					return errors.New("no push applied yet")
				}
				return nil
			})
			cmd.Process.Signal(syscall.SIGKILL)
			r := finish(cmd, out, errOut, started)
			gf.set("")
			if !r.killed {
				t.Fatalf("up was not killed mid-push: exit %d\n%s", r.code, r.errs)
			}
			f.afterKill(t)
			if f.head() == since {
				t.Fatal("the branch did not move: the push never landed")
			}
			table.add("SIGKILL mid-push: the host applied the pack, its answer lost", "up", f.converged(ctx, t, since, 1, withVersion()...))
		})
	})

	// --- two processes ---------------------------------------------------
	// The first up is stopped (SIGSTOP) at the start of its wait step,
	// holding the lock; the second process runs meanwhile. Without a lock
	// timeout it is refused, naming the holder; with one it waits, and acts
	// only once the first has finished (and then has nothing to do).
	t.Run("two processes", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			args  []string
			waits bool
		}{
			{"up", []string{"up", w.file, "--lock-timeout", "0"}, false},
			{"up --lock-timeout 2m", []string{"up", w.file, "--lock-timeout", "2m", "--output", "json"}, true},
			{"down", []string{"down", w.file, "--uninstall", "--yes"}, false},
		} {
			t.Run("up vs "+c.name, func(t *testing.T) {
				since := f.head()
				started := time.Now()
				first, out, errOut := f.start(ctx, "step:wait", []string{"GROUNDWORK_FAULTPOINT_SIGNAL=STOP"}, append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
				waitStopped(ctx, t, "the first up stopped holding the lock", first)
				var second procResult
				if c.waits {
					sc, sout, serr := f.start(ctx, "", nil, append(c.args, withVersion()...)...)
					waitFor(ctx, t, "the second run waiting", func(context.Context) error {
						if !strings.Contains(serr.String(), "Waiting up to") {
							return errors.New("not waiting yet")
						}
						return nil
					})
					_ = first.Process.Signal(syscall.SIGCONT)
					second = finish(sc, sout, serr, time.Now())
				} else {
					second = f.run(ctx, "", nil, append(c.args, withVersion()...)...)
					_ = first.Process.Signal(syscall.SIGCONT)
				}
				r := finish(first, out, errOut, started)
				if r.code != 0 {
					t.Fatalf("the first up failed: exit %d\n%s", r.code, r.errs)
				}
				pid := fmt.Sprintf("pid %d", first.Process.Pid)
				outcome := ""
				if c.waits {
					var doc cmdup.Document
					if err := json.Unmarshal([]byte(second.stdout), &doc); second.code != 0 || err != nil || doc.Changed {
						t.Errorf("the second up, once the first finished: exit %d, changed %v (%v)\n%s", second.code, doc.Changed, err, second.errs)
						outcome = "FAILED: the second did not wait and find nothing to do"
					} else {
						outcome = "the second waits for the lock, then finds nothing to do"
					}
				} else if second.code != 1 || !strings.Contains(second.errs, "holds the lock") || !strings.Contains(second.errs, pid) {
					t.Errorf("the second run: exit %d, want 1 naming the holder (%s):\n%s", second.code, pid, second.errs)
					outcome = "FAILED: the second was not refused naming the holder"
				} else {
					outcome = "the second is refused, naming the holder"
				}
				table.add("a second process while up holds the lock", c.name, outcome+"; "+f.converged(ctx, t, since, 0, withVersion()...))
			})
		}
	})

	// --- keys rotate -----------------------------------------------------
	t.Run("keys rotate", func(t *testing.T) {
		// A SOPS Secret in the repository, for the rotation to re-encrypt
		// and the cluster to decrypt at every stage.
		f.setSecret(ctx, t)
		f.converged(ctx, t, "", 0, withVersion()...)
		decrypted := func(t *testing.T) {
			t.Helper()
			s, err := cp.Client().CoreV1().Secrets("default").Get(ctx, "api", metav1.GetOptions{})
			if err != nil || string(s.Data["token"]) != "s3cr3t" {
				t.Errorf("the SOPS Secret in the cluster: %v %v", s, err)
			}
		}
		decrypted(t)
		for _, point := range []string{"rotate:both-keys", "rotate:phase#1", "rotate:phase#2", "rotate:new-key-only", "rotate:retired"} {
			ok := t.Run(point, func(t *testing.T) {
				f.kill(ctx, t, point, "keys", "rotate", w.file, "--lock-timeout", "0")
				// The key store holds a key at every moment.
				if _, err := os.Stat(filepath.Join(w.dir, "keys", "harness.agekey")); err != nil {
					t.Fatalf("the killed rotation left no key in the key store: %v", err)
				}
				// What a user runs next: up (the key store must still hold
				// a key the cluster's files are encrypted for), then rotate
				// again, which finishes the rotation.
				if out := f.converged(ctx, t, "", -1, withVersion()...); t.Failed() {
					decrypted(t)
					table.add("SIGKILL between its phases (`"+point+"`)", "keys rotate", "up after the kill: "+out)
					return
				}
				r := f.run(ctx, "", nil, "keys", "rotate", w.file, "--lock-timeout", "0")
				if r.code != 0 {
					t.Fatalf("keys rotate again: exit %d\n%s", r.code, r.errs)
				}
				out := f.converged(ctx, t, "", -1, withVersion()...)
				decrypted(t)
				table.add("SIGKILL between its phases (`"+point+"`)", "keys rotate", "the key store keeps a key; up after the kill, then keys rotate again: "+out)
			})
			if !ok && tableOutcome(table, point) == "" {
				table.add("SIGKILL between its phases (`"+point+"`)", "keys rotate", "FAILED")
			}
		}
	})

	// --- down --------------------------------------------------------------
	t.Run("down", func(t *testing.T) {
		for _, point := range []string{"down:detached", "helm:wait-delete", "down:uninstalled", "down:purged"} {
			t.Run(point, func(t *testing.T) {
				since := f.head()
				f.kill(ctx, t, point, "down", w.file, "--uninstall", "--purge-repo", "--yes")
				r := f.run(ctx, "", nil, "down", w.file, "--uninstall", "--purge-repo", "--yes")
				outcome := "rerun of down completes"
				if r.code != 0 {
					outcome = fmt.Sprintf("rerun of down fails: exit %d", r.code)
					t.Errorf("down again: exit %d\n%s", r.code, r.errs)
				}
				if _, err := os.Stat(f.stateDir); !os.IsNotExist(err) {
					entries, _ := os.ReadDir(f.stateDir)
					t.Errorf("down left the state directory: %v", entries)
					outcome += ", state directory left"
				}
				if l, _ := cp.Client().CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"}); l != nil && len(l.Items) > 0 {
					t.Errorf("Helm release Secrets left: %d", len(l.Items))
					outcome += ", Helm release left"
				}
				// And up brings it back.
				table.add("SIGKILL (`"+point+"`)", "down --uninstall --purge-repo", outcome+"; up then "+f.converged(ctx, t, since, 2, withVersion()...))
			})
		}
	})

	// --- more dependency faults ------------------------------------------
	// The chart repository fails while up installs the reconciler. Its
	// chart is fetched only to install or upgrade the release (Flux
	// upgrades itself from Git), so each case first uninstalls it with
	// down --uninstall, the repository kept.
	t.Run("chart repository", func(t *testing.T) {
		for _, c := range []struct {
			name, mode, timeout string
			want                []string
		}{
			{"answers 404", "404", "3m", []string{"step reconciler", cf.srv.URL, "404"}},
			{"answers 500", "500", "3m", []string{"step reconciler", cf.srv.URL, "500"}},
			{"hangs", "hang", "30s", []string{"timed out after 30s in step reconciler (--timeout)"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				since := f.head()
				if r := f.run(ctx, "", nil, "down", w.file, "--uninstall", "--yes"); r.code != 0 {
					t.Fatalf("down --uninstall: exit %d\n%s", r.code, r.errs)
				}
				outcome := f.failingUp(ctx, t, "the chart repository failing ("+c.mode+")", func() { cf.set(c.mode) }, func() { cf.set("") }, c.timeout, c.want, withVersion()...)
				table.add("chart repository "+c.name, "up", outcome+"; "+f.converged(ctx, t, since, 0, withVersion()...))
			})
		}
	})

	// --- Helm upgrade --------------------------------------------------------
	// groundwork upgrades the reconciler's release only while Flux does not
	// own it yet: an up stopped between its reconciler and sync steps, then
	// run again with gitops.version bumped. The bumped up is killed inside
	// Helm's upgrade (the new objects applied, the revision pending-upgrade);
	// the rerun must leave one release, at the new chart, deployed.
	t.Run("Helm upgrade", func(t *testing.T) {
		since := f.head()
		if r := f.run(ctx, "", nil, "down", w.file, "--uninstall", "--yes"); r.code != 0 {
			t.Fatalf("down --uninstall: exit %d\n%s", r.code, r.errs)
		}
		// Installed by groundwork at the current version, not yet handed
		// to Flux.
		f.kill(ctx, t, "step:secrets", append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
		from := f.chartVersion(t)
		w.charts.AddUpstream(t, harness.FluxChartNext)
		// From here on every case runs at the new version (the cluster
		// is one for the whole matrix; going back would be a downgrade
		// through Git).
		version = harness.FluxChartNext.Version
		f.kill(ctx, t, "helm:wait", append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
		pending := f.lastRevisionStatus(ctx, t)
		if pending != "pending-upgrade" {
			t.Fatalf("killed at helm:wait, the release's last revision is %q, want pending-upgrade: the kill was not inside an upgrade", pending)
		}
		// The version bump reaches Git once: one commit.
		outcome := f.converged(ctx, t, since, 1, withVersion()...)
		if got := f.chartVersion(t); got != version {
			t.Errorf("after the rerun the release runs chart %s, want %s", got, version)
			outcome = "FAILED: chart " + got
		}
		table.add(fmt.Sprintf("SIGKILL mid Helm upgrade %s → %s (objects applied, release pending-upgrade) (`helm:wait`)", from, version), "up", outcome+", chart "+version)
	})

	// The key store holds something that is no age key (a bad copy, a
	// truncated file): up refuses before its first change, saying which.
	t.Run("key store", func(t *testing.T) {
		keyFile := filepath.Join(w.dir, "keys", "harness.agekey")
		key, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		since := f.head()
		if err := os.WriteFile(keyFile, []byte("AGE-SECRET-KEY-1TRUNCATED\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := f.run(ctx, "", nil, append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		outcome := "clear error before any change"
		if r.code != 1 || !strings.Contains(r.errs, "key store") || !strings.Contains(r.errs, keyFile) || !strings.Contains(r.errs, "nothing was changed") {
			t.Errorf("up with a corrupt key in the key store: exit %d\n%s", r.code, r.errs)
			outcome = "FAILED: unclear error"
		}
		t.Logf("up with a corrupt key:\n%s", r.errs)
		table.add("key store holds no readable key", "up", outcome+"; "+f.converged(ctx, t, since, 0, withVersion()...))
	})

	// The API server goes away while up waits for Flux (stopped at the
	// start of its wait step, resumed once the API server is down), and
	// comes back a few seconds later.
	t.Run("API server restarted", func(t *testing.T) {
		perturbSeed(t)
		since := f.head()
		started := time.Now()
		up, out, errOut := f.start(ctx, "step:wait", []string{"GROUNDWORK_FAULTPOINT_SIGNAL=STOP"}, append([]string{"up", w.file, "--lock-timeout", "0"}, withVersion()...)...)
		waitStopped(ctx, t, "up stopped at its wait step", up)
		cp.StopAPIServer(t)
		_ = up.Process.Signal(syscall.SIGCONT)
		time.Sleep(3 * time.Second) // up looks at a cluster that does not answer
		cp.StartAPIServer(t)
		r := finish(up, out, errOut, started)
		// The wait rides out the API server's absence (its check once
		// failed at once on the refused connection).
		outcome := "up rides it out"
		if r.code != 0 {
			t.Errorf("up across an API server restart: exit %d\n%s", r.code, r.errs)
			outcome = fmt.Sprintf("FAILED: exit %d", r.code)
		}
		t.Logf("up across an API server restart: exit %d after %s\n%s", r.code, r.took.Round(time.Millisecond), r.errs)
		table.add("API server restarted during up's wait step", "up", outcome+"; "+f.converged(ctx, t, since, 1, withVersion()...))
	})

	// Flux's kustomize-controller crash-loops (the harness kills its
	// process whenever it runs; the kubelet restarts it with back-off)
	// while up waits for it to apply the seed commit: up ends within
	// --timeout saying what was not applied, and once the controller runs
	// again a rerun converges.
	t.Run("reconciler crash-looping", func(t *testing.T) {
		perturbSeed(t)
		since := f.head()
		stop, stopped := make(chan struct{}), make(chan struct{})
		crashes := 0
		crashLoop := func() {
			go func() {
				defer close(stopped)
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						if kubelet.Crash("kustomize-controller") {
							crashes++
						}
					}
				}
			}()
		}
		outcome := f.failingUp(ctx, t, "kustomize-controller crash-looping", crashLoop, func() { close(stop); <-stopped }, "40s",
			[]string{"timed out after 40s in step wait (--timeout); by then Flux had not applied", "Kustomization",
				// why: the controller, as the kubelet reports it
				"Flux's own workloads are not all ready:\n  Deployment flux-system/kustomize-controller: 0/1 replicas ready", "pod kustomize-controller-"}, withVersion()...)
		t.Logf("kustomize-controller crashed %d times", crashes)
		table.add("Flux's kustomize-controller crash-looping", "up", outcome+"; "+f.converged(ctx, t, since, 1, withVersion()...))
	})

	// --- deploy ------------------------------------------------------------
	// An app of the user's in the environment's folder; deploy is killed
	// with its commit made in memory, and once pushed (before --wait).
	t.Run("deploy", func(t *testing.T) {
		wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
		wd.WriteFile(t, "clusters/harness/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - web.yaml\n")
		wd.WriteFile(t, "clusters/harness/apps/web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0.0
`)
		wd.CommitAndPush(t, "a user adds an app")
		f.converged(ctx, t, "", -1, withVersion()...)
		for i, point := range []string{"git:committed", "deploy:pushed"} {
			t.Run(point, func(t *testing.T) {
				since := f.head()
				args := []string{"deploy", w.file, "--image", fmt.Sprintf("registry.example/web=registry.example/web:1.0.%d", i+1), "--wait"}
				f.kill(ctx, t, point, args...)
				r := f.run(ctx, "", nil, args...)
				outcome := "rerun of deploy completes, one commit"
				if r.code != 0 {
					t.Errorf("deploy again: exit %d\n%s", r.code, r.errs)
					outcome = fmt.Sprintf("rerun of deploy fails: exit %d", r.code)
				}
				if p := f.repoProblems(since, 1); len(p) > 0 {
					t.Errorf("%v", p)
					outcome = "FAILED: " + strings.Join(p, "; ")
				}
				d, err := cp.Client().AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
				if want := fmt.Sprintf("registry.example/web:1.0.%d", i+1); err != nil || d.Spec.Template.Spec.Containers[0].Image != want {
					t.Errorf("the cluster's web after deploy --wait: %v, want %s", err, want)
					outcome = "FAILED: not applied"
				}
				table.add("SIGKILL (`"+point+"`)", "deploy --wait", outcome+"; up then "+f.converged(ctx, t, f.head(), 0, withVersion()...))
			})
		}
	})

	// --- rebuild -----------------------------------------------------------
	// The cluster is lost (the harness wipes it); rebuild is killed as it
	// restores the age key and inside its reconciler install, then run
	// again: everything comes back, the SOPS Secret included. (Its wait is
	// up's wait step, killed above.)
	t.Run("rebuild", func(t *testing.T) {
		// down --purge-repo removed the SOPS Secret: it is set again.
		f.setSecret(ctx, t)
		f.converged(ctx, t, "", -1, withVersion()...)
		for _, point := range []string{"step:restore-keys", "helm:wait"} {
			t.Run(point, func(t *testing.T) {
				cp.Wipe(t)
				since := f.head()
				f.kill(ctx, t, point, "rebuild", w.file, "--lock-timeout", "0")
				r := f.run(ctx, "", nil, "rebuild", w.file, "--lock-timeout", "0")
				outcome := "rerun of rebuild completes"
				if r.code != 0 {
					t.Errorf("rebuild again: exit %d\n%s", r.code, r.errs)
					outcome = fmt.Sprintf("rerun of rebuild fails: exit %d", r.code)
				}
				_, hp := f.releaseProblems(ctx)
				for _, p := range hp {
					t.Error(p)
					outcome = "FAILED: " + p
				}
				s, err := cp.Client().CoreV1().Secrets("default").Get(ctx, "api", metav1.GetOptions{})
				if err != nil || string(s.Data["token"]) != "s3cr3t" {
					t.Errorf("the SOPS Secret after the rebuild: %v %v", s, err)
					outcome = "FAILED: the SOPS Secret is not back"
				}
				table.add("SIGKILL after a wipe (`"+point+"`)", "rebuild", outcome+", the SOPS Secret back; up then "+f.converged(ctx, t, since, 0, withVersion()...))
			})
		}
	})

	// --- Terraform -----------------------------------------------------------
	t.Run("Terraform", func(t *testing.T) { terraformFaults(ctx, t, table) })

	t.Logf("FIGURE fault matrix: %d cases in %s (%s with the build)", len(table.rows), time.Since(matrixStart).Round(time.Second), time.Since(suiteStart).Round(time.Second))
	checkFaultTable(t, table)
}

// waitStopped waits until cmd's process is stopped (SIGSTOP at its fault
// point).
func waitStopped(ctx context.Context, t *testing.T, what string, cmd *exec.Cmd) {
	t.Helper()
	waitFor(ctx, t, what, func(context.Context) error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			return err
		}
		if fs := strings.Fields(string(b)); len(fs) < 3 || fs[2] != "T" {
			return errors.New("not stopped yet")
		}
		return nil
	})
}

func tableOutcome(ft *faultTable, fault string) string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, r := range ft.rows {
		if strings.Contains(r.fault, fault) {
			return r.outcome
		}
	}
	return ""
}

func lockHolder(errs string) string {
	i := strings.Index(errs, "(")
	j := strings.Index(errs, ";")
	if i < 0 || j < i {
		return ""
	}
	return errs[i+1 : j]
}

const (
	faultTableBegin = "<!-- fault table: generated by go test ./tests/e2e -run TestFaults -update; do not edit -->"
	faultTableEnd   = "<!-- end of fault table -->"
)

// checkFaultTable rewrites the marked section of tests/README.md with
// -update, and otherwise fails when the outcomes differ from it.
func checkFaultTable(t *testing.T, ft *faultTable) {
	t.Helper()
	var b strings.Builder
	survived := 0
	b.WriteString(faultTableBegin + "\n\n| fault | command | outcome |\n| --- | --- | --- |\n")
	for _, r := range ft.rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.fault, r.command, r.outcome)
		if !strings.Contains(r.outcome, "FAILED") && !strings.Contains(r.outcome, "not converge") && !strings.Contains(r.outcome, "fails") && !strings.Contains(r.outcome, "left") {
			survived++
		}
	}
	fmt.Fprintf(&b, "\nFaults survived: %d of %d.\n\n%s", survived, len(ft.rows), faultTableEnd)
	readme := filepath.Join("..", "README.md")
	cur, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	s := string(cur)
	i, j := strings.Index(s, faultTableBegin), strings.Index(s, faultTableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no fault table section (%q ... %q)", readme, faultTableBegin, faultTableEnd)
	}
	next := s[:i] + b.String() + s[j+len(faultTableEnd):]
	if u := flag.Lookup("update"); u != nil && u.Value.String() == "true" {
		if err := os.WriteFile(readme, []byte(next), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the fault table in %s: %d of %d faults survived", readme, survived, len(ft.rows))
		return
	}
	if next != s {
		t.Errorf("the fault table in %s differs from this run's outcomes (run with -update if the change is meant):\n%s", readme, b.String())
	}
	t.Logf("faults survived: %d of %d", survived, len(ft.rows))
}
