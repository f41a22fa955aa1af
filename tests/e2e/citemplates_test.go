package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// ciWorld is what the template tests run against: one harness cluster with
// the Flux "kubelet", the flux2 chart in the harness's Helm repository, an
// HTTP Git server (token auth) with an empty repository, the groundwork
// binary built from this checkout, an age key for the key_store "env", and
// a folder for the runners' workspaces.
type ciWorld struct {
	cp      *harness.ControlPlane
	charts  *harness.ChartRepo
	gitSrv  *harness.GitHTTPServer
	repoURL string
	token   string
	ageKey  string
	bin     string
	root    string
}

func startCIWorld(t *testing.T) *ciWorld {
	t.Helper()
	w := &ciWorld{cp: startFluxCluster(t), charts: harness.StartChartRepo(t), root: t.TempDir(), token: "t0ken"}
	w.charts.AddUpstream(t, harness.FluxChart)
	w.gitSrv = harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: w.token})
	w.repoURL = w.gitSrv.CreateRepo(t, "fleet")
	w.ageKey = harness.NewAgeKey(t).Identity
	// The CI jobs install groundwork with go install; here it is the binary
	// of this checkout, first on PATH (kubectl and jq come from the host,
	// as GitHub's runners have them and the GitLab job installs them).
	bindir := filepath.Join(w.root, "bin")
	w.bin = filepath.Join(bindir, "groundwork")
	if out, err := exec.Command("go", "build", "-o", w.bin, "github.com/groundwork-dev/groundwork/cmd/groundwork").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tool := range []string{"bash", "kubectl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the templates' scripts call %s, which is not on PATH", tool)
		}
	}
	return w
}

// workspace is a fresh runner's checkout: the example environment the
// template names, swapped for its harness variant (variant).
func (w *ciWorld) workspace(t *testing.T, name, envFile, env string) string {
	t.Helper()
	dir := filepath.Join(w.root, name)
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(envFile)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, envFile), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// variant is an example environment file made to run on the harness: each
// replacement's old text must occur exactly once, so that the test fails,
// rather than drifting, when the example changes.
func variant(t *testing.T, rel string, replacements ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", rel))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		if n := strings.Count(s, replacements[i]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once (update the test's harness variant)", rel, replacements[i], n)
		}
		s = strings.Replace(s, replacements[i], replacements[i+1], 1)
	}
	return s
}

// baseEnviron is a CI job's process environment on the harness: the host's
// PATH behind groundwork's folder, a HOME of the runner's own.
func (w *ciWorld) baseEnviron(home string) []string {
	return []string{"PATH=" + filepath.Dir(w.bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8", "CI=true"}
}

// bash runs a script as the CI systems do (bash, -e, pipefail), in dir.
func bash(ctx context.Context, dir string, environ []string, script string) (code int, out string) {
	f, err := os.CreateTemp("", "step-*.sh")
	if err != nil {
		return -1, err.Error()
	}
	defer os.Remove(f.Name())
	_, _ = f.WriteString(script)
	_ = f.Close()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", f.Name())
	cmd.Dir, cmd.Env = dir, environ
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		return -1, err.Error()
	}
	return cmd.ProcessState.ExitCode(), buf.String()
}

// ghRun is one run of a GitHub Actions job on the harness.
type ghRun struct {
	event string
	// exprs are the values of the ${{ }} expressions the job uses, by
	// expression; steps.<id>.outputs.<name> come from $GITHUB_OUTPUT.
	exprs map[string]string
	// skip names steps (by id or name) the run leaves out, and why.
	skip map[string]string
	// ran are the steps run, "name: exit code".
	ran []string
}

var ghExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runGitHubJob runs the job's steps as a GitHub runner does, in order, in
// the workspace dir: each run: script with bash -eo pipefail (the
// workflow's defaults.run.shell, which TestGitHubTemplate asserts), the
// workflow's, job's and step's env: with their ${{ }} expressions replaced
// by r.exprs (an expression the test was not given fails it), GITHUB_OUTPUT
// per step read back into steps.<id>.outputs, and a step after a failure
// run only when its if: is always(). The actions (uses:) are stand-ins:
// actions/checkout is the workspace the test prepared, actions/setup-go
// the host's Go. It returns whether every step that ran passed.
func runGitHubJob(ctx context.Context, t *testing.T, w *ciWorld, wf *ghWorkflow, jobName string, r *ghRun, dir string) bool {
	t.Helper()
	job := wf.Jobs[jobName]
	if job.gate() != r.event {
		t.Fatalf("job %s runs on %q, not on %s", jobName, job.If, r.event)
	}
	home := filepath.Join(dir, ".home")
	_ = os.MkdirAll(home, 0o755)
	outputs := map[string]string{}
	subst := func(s string) string {
		return ghExpr.ReplaceAllStringFunc(s, func(m string) string {
			e := ghExpr.FindStringSubmatch(m)[1]
			if v, ok := outputs[e]; ok {
				return v
			}
			v, ok := r.exprs[e]
			if !ok {
				t.Fatalf("job %s uses ${{ %s }}, which the test does not provide", jobName, e)
			}
			return v
		})
	}
	summary := filepath.Join(dir, ".summary")
	environ := append(w.baseEnviron(home), "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME="+r.event, "GITHUB_WORKSPACE="+dir,
		"GITHUB_RUN_ID="+r.exprs["github.run_id"], "GITHUB_RUN_ATTEMPT=1", "GITHUB_STEP_SUMMARY="+summary, "RUNNER_OS=Linux")
	for _, m := range []map[string]string{wf.Env, job.Env} {
		for k, v := range m {
			environ = append(environ, k+"="+subst(v))
		}
	}
	failed := false
	for i, s := range job.Steps {
		name := s.Name
		if name == "" {
			name = s.ID
		}
		if name == "" {
			name = s.Uses
		}
		if why, ok := r.skip[s.ID]; ok || r.skip[name] != "" {
			t.Logf("step %s: skipped (%s%s)", name, why, r.skip[name])
			continue
		}
		switch cond := strings.TrimSpace(s.If); cond {
		case "", "success()":
			if failed {
				continue
			}
		case "always()":
		default:
			t.Fatalf("step %s: if: %q is a condition the test does not evaluate", name, s.If)
		}
		if s.Uses != "" {
			if !strings.HasPrefix(s.Uses, "actions/checkout@") && !strings.HasPrefix(s.Uses, "actions/setup-go@") {
				t.Fatalf("step %s uses %s, which the test has no stand-in for", name, s.Uses)
			}
			continue
		}
		out := filepath.Join(dir, fmt.Sprintf(".output-%d", i))
		env := append(append([]string{}, environ...), "GITHUB_OUTPUT="+out)
		for k, v := range s.Env {
			env = append(env, k+"="+subst(v))
		}
		code, log := bash(ctx, dir, env, subst(s.Run))
		t.Logf("step %s: exit %d\n%s", name, code, log)
		r.ran = append(r.ran, fmt.Sprintf("%s: %d", name, code))
		if code != 0 {
			failed = true
		}
		if b, err := os.ReadFile(out); err == nil && s.ID != "" {
			for _, l := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					outputs["steps."+s.ID+".outputs."+k] = v
				}
			}
		}
	}
	return !failed
}

// assertClean checks that no instance of the environment is left: no
// groundwork folder under the environment's path in the repository, no
// reconciler release, Kustomization, groundwork Secret or expiry record in
// the cluster.
func (w *ciWorld) assertClean(ctx context.Context, t *testing.T, prefix string) {
	t.Helper()
	if files := snapshotFiles(t, w.repoURL, w.gitSrv); strings.Contains(files, prefix) {
		t.Errorf("files under %s* left in the repository:\n%s", prefix, files)
	}
	assertNoGroundworkObjects(ctx, t, w.cp)
	releases, err := w.cp.Client().CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err == nil && len(releases.Items) > 0 {
		t.Errorf("Helm release records left in %s: %d", harness.FluxNamespace, len(releases.Items))
	}
	cm, err := w.cp.Client().CoreV1().ConfigMaps(facts.ExpiryNamespace).Get(ctx, facts.ExpiryConfigMap, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the expiry record is left in the cluster: %v %v", cm.Data, err)
	}
}

// upExpires reads the expiry from the up.json the job left in dir.
func upExpires(t *testing.T, dir string) time.Time {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "up.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expires *time.Time `json:"expires"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Expires == nil {
		t.Fatalf("up.json has no expiry (%v):\n%s", err, b)
	}
	return *doc.Expires
}

// TestGitHubTemplateOnTheHarness runs templates/ci/github-actions.yaml's
// jobs as written, their run: steps in order with bash, against the
// harness. Stand-ins: the environment is environments/ci-ephemeral.hcl
// with its kind cluster swapped for the harness's (cluster "existing": no
// Docker here), the chart from the harness's Helm repository and a TTL of
// seconds; the secrets and the FLEET_REPO variable are the harness's Git
// server and an age key; the install step (go install ...@latest, which
// needs the internet) is skipped, and groundwork is this checkout's.
//
//   - pull_request: up, smoke test, down leave no cluster objects and no
//     folder in the repository.
//   - a preview whose down step did not run (its runner kept its state, as
//     a self-hosted one does), then the schedule's gc once it expired: gc
//     deletes it.
//   - a preview whose down step did not run on a runner that is gone, then
//     workflow_dispatch on a fresh runner with its name suffix: the
//     teardown deletes it.
func TestGitHubTemplateOnTheHarness(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	w := startCIWorld(t)
	wf := readWorkflow(t, githubTemplate)
	env := variant(t, githubEnv,
		`cluster "kind" {}`, fmt.Sprintf(`cluster "existing" { kubeconfig = %q }`, w.cp.AdminKubeconfig()),
		`  gitops {`, fmt.Sprintf("  gitops {\n    chart { repository = %q }", w.charts.URL()),
		`ttl = "2h"`, `ttl = "20s"`)
	install := map[string]string{"install": "go install needs the internet; groundwork is this checkout's, on PATH"}
	exprs := func(pr, run string, extra ...string) map[string]string {
		m := map[string]string{"vars.FLEET_REPO": w.repoURL, "secrets.FLEET_TOKEN": w.token, "secrets.GROUNDWORK_AGE_KEY": w.ageKey,
			"github.event.pull_request.number": pr, "github.run_id": run}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}

	t.Run("preview", func(t *testing.T) {
		dir := w.workspace(t, "preview-7", githubEnv, env)
		r := &ghRun{event: "pull_request", exprs: exprs("7", "4242"), skip: install}
		if !runGitHubJob(ctx, t, w, wf, "preview", r, dir) {
			t.Fatalf("the preview job failed: %v", r.ran)
		}
		if len(r.ran) != 3 {
			t.Errorf("steps run: %v, want up, smoke test, down", r.ran)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, ".summary")); !strings.Contains(string(b), "pr-7-4242") {
			t.Errorf("the job summary does not give the instance's suffix:\n%s", b)
		}
		w.assertClean(ctx, t, "ephemeral/ci-")
	})

	t.Run("gc collects a preview whose down did not run", func(t *testing.T) {
		dir := w.workspace(t, "self-hosted", githubEnv, env)
		r := &ghRun{event: "pull_request", exprs: exprs("8", "4243"), skip: map[string]string{"install": install["install"], "down": "the runner lost the job before its teardown"}}
		if !runGitHubJob(ctx, t, w, wf, "preview", r, dir) {
			t.Fatalf("the preview job failed: %v", r.ran)
		}
		if files := snapshotFiles(t, w.repoURL, w.gitSrv); !strings.Contains(files, "ephemeral/ci-pr-8-4243/groundwork/") {
			t.Fatalf("no folder for the instance:\n%s", files)
		}
		time.Sleep(time.Until(upExpires(t, dir)) + time.Second)
		gc := &ghRun{event: "schedule", exprs: exprs("", "5000"), skip: install}
		if !runGitHubJob(ctx, t, w, wf, "gc", gc, dir) {
			t.Fatalf("the gc job failed: %v", gc.ran)
		}
		w.assertClean(ctx, t, "ephemeral/ci-")
	})

	t.Run("workflow_dispatch tears down what a lost runner left", func(t *testing.T) {
		lost := w.workspace(t, "lost", githubEnv, env)
		r := &ghRun{event: "pull_request", exprs: exprs("9", "4244"), skip: map[string]string{"install": install["install"], "down": "the runner was lost before its teardown"}}
		if !runGitHubJob(ctx, t, w, wf, "preview", r, lost) {
			t.Fatalf("the preview job failed: %v", r.ran)
		}
		fresh := w.workspace(t, "teardown", githubEnv, env)
		td := &ghRun{event: "workflow_dispatch", exprs: exprs("", "5001", "inputs.name_suffix", "pr-9-4244"), skip: install}
		if !runGitHubJob(ctx, t, w, wf, "teardown", td, fresh) {
			t.Fatalf("the teardown job failed: %v", td.ran)
		}
		w.assertClean(ctx, t, "ephemeral/ci-")
	})
}

// glJobRun is one run of a GitLab CI job on the harness.
type glJobRun struct {
	// vars are the predefined and project (masked) CI/CD variables.
	vars map[string]string
	// skipAfterScript leaves after_script out (a job killed before it).
	skipAfterScript bool
}

var glRule = regexp.MustCompile(`^\$([A-Z_]+) == "([^"]*)"$`)

// runGitLabJob runs the job as a GitLab runner's bash shell does, in the
// project directory dir: its rules: (of the form $VAR == "value") must
// admit the pipeline; its variables: expanded against the predefined and
// project variables, as GitLab expands them; script: as one bash -eo
// pipefail script, then after_script: in a shell of its own (what script
// exported is gone; job variables stay). before_script is left out: it
// installs the tools (apt-get, go install, a download from dl.k8s.io: no
// internet here) and makes the kind cluster in the Docker-in-Docker
// service (no Docker here); kubeconfig stands in for the kubeconfig that
// step writes to $GROUNDWORK_VAR_kubeconfig. It returns script's and
// after_script's exit codes and output.
func runGitLabJob(ctx context.Context, t *testing.T, w *ciWorld, job glJob, r glJobRun, dir, kubeconfig string) (code, afterCode int) {
	t.Helper()
	admitted := false
	for _, rule := range job.Rules {
		m := glRule.FindStringSubmatch(fmt.Sprint(rule["if"]))
		if m == nil {
			t.Fatalf("rule %v is not of the form $VAR == \"value\" the test evaluates", rule)
		}
		if r.vars[m[1]] == m[2] {
			admitted = true
		}
	}
	if !admitted {
		t.Fatalf("the job's rules do not admit this pipeline (%v)", job.Rules)
	}
	home := filepath.Join(dir, ".home")
	_ = os.MkdirAll(home, 0o755)
	environ := append(w.baseEnviron(home), "GITLAB_CI=true", "CI_PROJECT_DIR="+dir)
	for k, v := range r.vars {
		environ = append(environ, k+"="+v)
	}
	jobVars := map[string]string{}
	for k, v := range job.Variables {
		jobVars[k] = os.Expand(v, func(name string) string {
			x, ok := r.vars[name]
			if !ok && name != "CI_PROJECT_DIR" {
				t.Fatalf("variable %s refers to $%s, which the test does not provide", k, name)
			}
			if name == "CI_PROJECT_DIR" {
				return dir
			}
			return x
		})
		environ = append(environ, k+"="+jobVars[k])
	}
	if kubeconfig != "" {
		p := jobVars["GROUNDWORK_VAR_kubeconfig"]
		b, err := os.ReadFile(kubeconfig)
		if err != nil || p == "" {
			t.Fatalf("no kubeconfig for the job (%v; GROUNDWORK_VAR_kubeconfig %q)", err, p)
		}
		_ = os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, log := bash(ctx, dir, environ, strings.Join(job.Script, "\n")+"\n")
	t.Logf("script: exit %d\n%s", code, log)
	if r.skipAfterScript || len(job.AfterScript) == 0 {
		return code, -1
	}
	afterCode, log = bash(ctx, dir, environ, strings.Join(job.AfterScript, "\n")+"\n")
	t.Logf("after_script: exit %d\n%s", afterCode, log)
	return code, afterCode
}

// TestGitLabTemplateOnTheHarness runs templates/ci/gitlab-ci.yaml's jobs as
// written against the harness (see runGitLabJob for what is left out, and
// why). Stand-ins: environments/ci-gitlab.hcl with the chart from the
// harness's Helm repository and a TTL of seconds; the harness's cluster
// for the job's kind cluster; the masked variables and FLEET_REPO are the
// harness's Git server and an age key.
//
//   - merge request: up, smoke test, then after_script's down leave no
//     cluster objects and no folder in the repository.
//   - a merge request job killed before after_script, then the scheduled
//     pipeline's gc once it expired (same build directory): gc deletes it.
func TestGitLabTemplateOnTheHarness(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	w := startCIWorld(t)
	_, jobs, _ := readGitLab(t)
	env := variant(t, gitlabEnv,
		`  gitops {`, fmt.Sprintf("  gitops {\n    chart { repository = %q }", w.charts.URL()),
		`ttl = "2h"`, `ttl = "20s"`)
	vars := func(source, iid, pipeline string) map[string]string {
		return map[string]string{"CI_PIPELINE_SOURCE": source, "CI_MERGE_REQUEST_IID": iid, "CI_PIPELINE_ID": pipeline, "CI_JOB_ID": pipeline + "1",
			"FLEET_REPO": w.repoURL, "FLEET_TOKEN": w.token, "GROUNDWORK_AGE_KEY": w.ageKey}
	}

	t.Run("merge request", func(t *testing.T) {
		dir := w.workspace(t, "mr-7", gitlabEnv, env)
		code, after := runGitLabJob(ctx, t, w, jobs["preview"], glJobRun{vars: vars("merge_request_event", "7", "900")}, dir, w.cp.AdminKubeconfig())
		if code != 0 || after != 0 {
			t.Fatalf("the preview job: script exit %d, after_script exit %d", code, after)
		}
		w.assertClean(ctx, t, "ephemeral/mr-")
	})

	t.Run("gc collects a job killed before after_script", func(t *testing.T) {
		dir := w.workspace(t, "mr-8", gitlabEnv, env)
		code, _ := runGitLabJob(ctx, t, w, jobs["preview"], glJobRun{vars: vars("merge_request_event", "8", "901"), skipAfterScript: true}, dir, w.cp.AdminKubeconfig())
		if code != 0 {
			t.Fatalf("the preview job's script: exit %d", code)
		}
		if files := snapshotFiles(t, w.repoURL, w.gitSrv); !strings.Contains(files, "ephemeral/mr-8-901/groundwork/") {
			t.Fatalf("no folder for the instance:\n%s", files)
		}
		time.Sleep(time.Until(upExpires(t, dir)) + time.Second)
		code, _ = runGitLabJob(ctx, t, w, jobs["gc"], glJobRun{vars: vars("schedule", "", "902")}, dir, "")
		if code != 0 {
			t.Fatalf("the gc job: exit %d", code)
		}
		w.assertClean(ctx, t, "ephemeral/mr-")
	})
}
