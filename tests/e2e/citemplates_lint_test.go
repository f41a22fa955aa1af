package e2e

import (
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The CI templates a user copies, and the example environments they are
// written for.
const (
	githubTemplate = "../../templates/ci/github-actions.yaml"
	githubEnv      = "environments/ci-ephemeral.hcl"
	gitlabTemplate = "../../templates/ci/gitlab-ci.yaml"
	gitlabEnv      = "environments/ci-gitlab.hcl"
	// The weekly drill's, and the long-lived environment it rehearses.
	githubDrillTemplate = "../../templates/ci/github-drill.yaml"
	gitlabDrillTemplate = "../../templates/ci/gitlab-drill.yaml"
	drillEnv            = "environments/production.hcl"
)

// ghWorkflow is the part of a GitHub Actions workflow the tests read.
type ghWorkflow struct {
	On       yaml.Node         `yaml:"on"`
	Env      map[string]string `yaml:"env"`
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Jobs map[string]ghJob `yaml:"jobs"`
}

type ghJob struct {
	If    string            `yaml:"if"`
	Env   map[string]string `yaml:"env"`
	Steps []ghStep          `yaml:"steps"`
}

type ghStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

func readWorkflow(t *testing.T, path string) *ghWorkflow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf ghWorkflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &wf
}

// events are the workflow's triggers, whichever form on: takes (a name, a
// list, or a map of names to their settings).
func (wf *ghWorkflow) events() map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	switch n := &wf.On; n.Kind {
	case yaml.ScalarNode:
		out[n.Value] = nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out[c.Value] = nil
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = n.Content[i+1]
		}
	}
	return out
}

var eventGate = regexp.MustCompile(`^\s*(?:\$\{\{\s*)?github\.event_name\s*==\s*'([a-z_]+)'\s*(?:\}\})?\s*$`)

// gate is the event a job's condition runs it on ("" when it has none or
// another kind of condition).
func (j ghJob) gate() string {
	if m := eventGate.FindStringSubmatch(j.If); m != nil {
		return m[1]
	}
	return ""
}

// TestGitHubWorkflowsLint reads every workflow as GitHub does, through
// actionlint (with shellcheck over the run: scripts when it is on PATH, as
// on GitHub's runners and after .ci/run), the CI template and the
// project's own workflows alike; and, beyond actionlint, checks that a job
// or step gated on an event can run: the event is one the workflow
// triggers on (a gc job gated on schedule in a workflow without a schedule
// never runs).
func TestGitHubWorkflowsLint(t *testing.T) {
	own, _ := filepath.Glob("../../.github/workflows/*.yaml")
	if len(own) == 0 {
		t.Fatal("the project has no workflows of its own under .github/workflows")
	}
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		shellcheck = ""
		t.Log("shellcheck is not on PATH: actionlint checks the run: scripts without it")
	}
	for _, file := range append([]string{githubTemplate, githubDrillTemplate}, own...) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{Shellcheck: shellcheck})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := l.LintFile(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Errorf("actionlint: %s", e)
			}
			wf := readWorkflow(t, file)
			events := wf.events()
			for name, job := range wf.Jobs {
				conds := []string{job.If}
				for _, s := range job.Steps {
					conds = append(conds, s.If)
				}
				for _, c := range conds {
					for _, m := range regexp.MustCompile(`github\.event_name\s*==\s*'([a-z_]+)'`).FindAllStringSubmatch(c, -1) {
						if _, ok := events[m[1]]; !ok {
							t.Errorf("job %s runs only on %s, which the workflow does not trigger on (on: %v)", name, m[1], slices.Sorted(maps.Keys(events)))
						}
					}
				}
			}
		})
	}
}

// exampleEnv loads an example environment and returns the variables it
// reads its secrets from: the Git token's and the key store's.
func exampleEnv(t *testing.T, rel string) (env *spec.Environment, secretVars []string) {
	t.Helper()
	res := spec.Load(filepath.Join("../..", rel), spec.Options{Home: t.TempDir()})
	if res.Env == nil || res.Diags.HasErrors() {
		t.Fatalf("%s: %v", rel, res.Diags)
	}
	env = res.Env
	if v := env.GitOps.Repository.Auth.TokenEnv; v != "" {
		secretVars = append(secretVars, v)
	}
	if env.Secrets.KeyStore.Type == spec.KeyStoreEnv {
		secretVars = append(secretVars, env.Secrets.KeyStore.Variable)
	}
	if len(secretVars) == 0 {
		t.Fatalf("%s reads no secret from the environment; a CI example must", rel)
	}
	return env, secretVars
}

// groundworkCalls are the groundwork command lines of a script.
func groundworkCalls(script string) []string {
	var out []string
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "groundwork ") {
			out = append(out, l)
		}
	}
	return out
}

// TestGitHubTemplate checks the workflow a CI user copies does what its
// header says: a preview job on pull requests that brings an instance up,
// smoke-tests it and tears it down whatever happened; gc on a schedule; a
// manual teardown by name suffix; for an environment file that exists, and
// with the environment's secrets from GitHub's secrets only.
func TestGitHubTemplate(t *testing.T) {
	wf := readWorkflow(t, githubTemplate)
	events := wf.events()
	if n := events["schedule"]; n == nil || !strings.Contains(yamlString(t, n), "cron:") {
		t.Errorf("no schedule with a cron in on: (gc runs nightly)")
	}
	if n := events["workflow_dispatch"]; n == nil || !strings.Contains(yamlString(t, n), "name_suffix:") {
		t.Errorf("no workflow_dispatch with a name_suffix input (the manual teardown)")
	}
	if _, ok := events["pull_request"]; !ok {
		t.Errorf("no pull_request trigger (the preview)")
	}
	if wf.Defaults.Run.Shell != "bash" {
		t.Errorf("defaults.run.shell is %q, want bash (bash -eo pipefail: a failing jq or kubectl in a pipe fails the step)", wf.Defaults.Run.Shell)
	}
	// Each secret the environment reads is given, from GitHub's secrets,
	// to the steps that run groundwork and to no other step (an install
	// step or an action must not see the Git token or the age key).
	_, secrets := exampleEnv(t, githubEnv)
	for _, v := range secrets {
		if _, ok := wf.Env[v]; ok {
			t.Errorf("the workflow gives %s to every step; give it to the steps that run groundwork", v)
		}
		for name, j := range wf.Jobs {
			if _, ok := j.Env[v]; ok {
				t.Errorf("job %s gives %s to every step; give it to the steps that run groundwork", name, v)
			}
			for _, s := range j.Steps {
				got, given := s.Env[v]
				switch runs := len(groundworkCalls(s.Run)) > 0; {
				case runs && got != "${{ secrets."+v+" }}":
					t.Errorf("job %s, step %q runs groundwork with %s = %q, want ${{ secrets.%s }} (the environment reads it; secrets come from GitHub's secrets only)", name, s.Name, v, got, v)
				case !runs && given:
					t.Errorf("job %s, step %q does not run groundwork but is given %s", name, s.Name, v)
				}
			}
		}
	}
	byGate := map[string]ghJob{}
	for name, j := range wf.Jobs {
		if g := j.gate(); g != "" {
			byGate[g] = j
		} else {
			t.Errorf("job %s has no event gate (if: github.event_name == '...'): it would run on every trigger", name)
		}
		for _, s := range j.Steps {
			for _, c := range groundworkCalls(s.Run) {
				if !strings.Contains(c, " "+githubEnv) && !strings.HasPrefix(c, "groundwork version") {
					t.Errorf("job %s: %q does not use %s, the environment the template is written for", name, c, githubEnv)
				}
			}
		}
	}
	var sequence []string
	for _, s := range byGate["pull_request"].Steps {
		for _, c := range groundworkCalls(s.Run) {
			verb := strings.Fields(c)[1]
			if verb == "down" && s.If != "always()" {
				t.Errorf("the preview's down step runs only on success (if: %q), want if: always()", s.If)
			}
			if verb == "up" && !strings.Contains(s.Run, "jq -r .kubeconfig") {
				t.Errorf("the up step does not read the kubeconfig from up's JSON with jq:\n%s", s.Run)
			}
			sequence = append(sequence, verb)
		}
		if strings.Contains(s.Run, "sed ") {
			t.Errorf("step %q edits with sed; read JSON with jq", s.Name)
		}
	}
	if got := strings.Join(sequence, ","); got != "up,status,down" {
		t.Errorf("the preview job runs groundwork %s, want up, status (in the smoke test), down", got)
	}
	if !strings.Contains(allRuns(byGate["schedule"]), "groundwork gc "+githubEnv) {
		t.Errorf("the job gated on schedule does not run groundwork gc")
	}
	td := byGate["workflow_dispatch"]
	if !strings.Contains(allRuns(td), "groundwork down "+githubEnv) || td.Env["NAME_SUFFIX"] != "${{ inputs.name_suffix }}" || !strings.Contains(allRuns(td), `--name-suffix "$NAME_SUFFIX"`) {
		t.Errorf("the job gated on workflow_dispatch does not run groundwork down --name-suffix with the input (through env:, never inline in the script)")
	}
}

func allRuns(j ghJob) string {
	var b strings.Builder
	for _, s := range j.Steps {
		b.WriteString(s.Run + "\n")
	}
	return b.String()
}

func yamlString(t *testing.T, n *yaml.Node) string {
	t.Helper()
	b, err := yaml.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// glJob is the part of a GitLab CI job the tests read.
type glJob struct {
	Image        any               `yaml:"image"`
	Services     []any             `yaml:"services"`
	Rules        []map[string]any  `yaml:"rules"`
	Variables    map[string]string `yaml:"variables"`
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	AfterScript  []string          `yaml:"after_script"`
}

// gitlabJobKeywords are the keywords of a GitLab CI job
// (docs.gitlab.com/ci/yaml); gitlabGlobalKeywords those of the file's top
// level that are not jobs.
var (
	gitlabJobKeywords = []string{"after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
		"dast_configuration", "dependencies", "environment", "extends", "hooks", "id_tokens", "identity", "image",
		"inherit", "interruptible", "manual_confirmation", "needs", "pages", "parallel", "release", "resource_group",
		"retry", "rules", "run", "script", "secrets", "services", "stage", "tags", "timeout", "trigger", "variables", "when"}
	gitlabGlobalKeywords = []string{"default", "include", "stages", "variables", "workflow", "spec"}
)

// gitlabTools says how the job installs each tool its scripts call, by a
// pattern of the install line; what the image has needs none.
var gitlabTools = map[string]*regexp.Regexp{
	"docker":     regexp.MustCompile(`apt-get install .*\bdocker\.io\b`),
	"jq":         regexp.MustCompile(`apt-get install .*\bjq\b`),
	"kind":       regexp.MustCompile(`go install "?sigs\.k8s\.io/kind@`),
	"kubectl":    regexp.MustCompile(`dl\.k8s\.io/release/.*/kubectl`),
	"groundwork": regexp.MustCompile(`go install "?github\.com/groundwork-dev/groundwork/cmd/groundwork@`),
}

// imageTools are the tools of the images the template may use.
var imageTools = map[string][]string{
	"golang:1.26": {"go", "git", "curl", "apt-get", "bash"},
}

var toolCall = regexp.MustCompile(`(?m)(?:^|[;&|(]\s*|\bdo\s+|\bthen\s+)(docker|jq|kind|kubectl|groundwork)\s`)

func readGitLab(t *testing.T) (doc map[string]yaml.Node, jobs map[string]glJob, header string) {
	t.Helper()
	return readGitLabFile(t, gitlabTemplate)
}

func readGitLabFile(t *testing.T, path string) (doc map[string]yaml.Node, jobs map[string]glJob, header string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	jobs = map[string]glJob{}
	for name, n := range doc {
		if slices.Contains(gitlabGlobalKeywords, name) || strings.HasPrefix(name, ".") {
			continue
		}
		var j glJob
		if err := n.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", name, err)
		}
		jobs[name] = j
	}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		header += l + "\n"
	}
	return doc, jobs, header
}

// TestGitLabTemplate checks the GitLab CI file as GitLab would read it, so
// far as can be done without GitLab (its CI schema is not vendored here):
// every key a job keyword, every job with an image that has, or installs
// before their first use, the tools its scripts call; the preview job on
// merge requests with a Docker-in-Docker service set up for kind (the
// service reached as "docker", TLS off with port 2375, the kind API server
// listening beyond the service's loopback with a certificate for that
// name), up, a smoke test and down in after_script; gc on a schedule; the
// environment's secrets only from masked CI/CD variables, named in the
// header; up's JSON read with jq.
func TestGitLabTemplate(t *testing.T) {
	doc, jobs, header := readGitLab(t)
	for name, n := range doc {
		if _, isJob := jobs[name]; !isJob || n.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !slices.Contains(gitlabJobKeywords, k) {
				t.Errorf("job %s: %q is not a GitLab CI job keyword", name, k)
			}
		}
	}
	_, secrets := exampleEnv(t, gitlabEnv)
	for _, v := range secrets {
		if !strings.Contains(header, v) {
			t.Errorf("the header does not name %s, which the environment reads, among the masked variables to set", v)
		}
	}
	gates := map[string]string{}
	for name, j := range jobs {
		image, _ := j.Image.(string)
		tools, ok := imageTools[image]
		if !ok {
			t.Errorf("job %s: image %v is not one whose tools the test knows", name, j.Image)
		}
		for _, v := range secrets {
			if _, ok := j.Variables[v]; ok {
				t.Errorf("job %s sets %s in variables:; secrets come from masked CI/CD variables only", name, v)
			}
		}
		installed := map[string]bool{}
		for _, t0 := range tools {
			installed[t0] = true
		}
		lines := slices.Concat(j.BeforeScript, j.Script, j.AfterScript)
		for i, l := range lines {
			for tool, re := range gitlabTools {
				if re.MatchString(l) {
					installed[tool] = true
				}
			}
			for _, m := range toolCall.FindAllStringSubmatch(l, -1) {
				if !installed[m[1]] {
					t.Errorf("job %s calls %s (line %d: %q) before installing it; image %v does not have it", name, m[1], i+1, l, j.Image)
				}
			}
			if strings.Contains(l, "up.json") && strings.Contains(l, "sed ") {
				t.Errorf("job %s reads up's JSON with sed: %q; use jq", name, l)
			}
		}
		for _, r := range j.Rules {
			if s, ok := r["if"].(string); ok {
				if m := regexp.MustCompile(`^\$CI_PIPELINE_SOURCE == "([a-z_]+)"$`).FindStringSubmatch(s); m != nil {
					gates[m[1]] = name
				}
			}
		}
		for _, c := range groundworkCalls(strings.Join(lines, "\n")) {
			if !strings.Contains(c, " "+gitlabEnv) {
				t.Errorf("job %s: %q does not use %s, the environment the template is written for", name, c, gitlabEnv)
			}
		}
	}
	preview, ok := jobs[gates["merge_request_event"]]
	if !ok {
		t.Fatalf("no job with rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\"")
	}
	dind := false
	for _, s := range preview.Services {
		if m, ok := s.(map[string]any); ok && regexp.MustCompile(`^docker:[0-9.]*-?dind$`).MatchString(m["name"].(string)) && m["alias"] == "docker" {
			dind = true
		}
	}
	if !dind {
		t.Errorf("the preview job has no Docker-in-Docker service (name docker:<version>-dind, alias docker): kind needs a Docker daemon")
	}
	v := preview.Variables
	tlsOff := v["DOCKER_HOST"] == "tcp://docker:2375" && v["DOCKER_TLS_CERTDIR"] == ""
	tlsOn := v["DOCKER_HOST"] == "tcp://docker:2376" && v["DOCKER_TLS_CERTDIR"] != "" && v["DOCKER_TLS_VERIFY"] == "1"
	if !tlsOff && !tlsOn {
		t.Errorf("the preview job's Docker variables do not reach the service: DOCKER_HOST %q, DOCKER_TLS_CERTDIR %q", v["DOCKER_HOST"], v["DOCKER_TLS_CERTDIR"])
	}
	before := strings.Join(preview.BeforeScript, "\n")
	for _, want := range []string{`apiServerAddress: "0.0.0.0"`, "certSANs: [localhost, 127.0.0.1, docker]", "kind create cluster", "--server https://docker:", `--kubeconfig "$GROUNDWORK_VAR_kubeconfig"`} {
		if !strings.Contains(before, want) {
			t.Errorf("the preview job's before_script lacks %q: its kind cluster in the DinD service would not be reachable from the job", want)
		}
	}
	if v["GROUNDWORK_VAR_kubeconfig"] == "" {
		t.Errorf("the preview job does not point the environment at the kind cluster's kubeconfig (GROUNDWORK_VAR_kubeconfig)")
	}
	var sequence []string
	for _, c := range groundworkCalls(strings.Join(preview.Script, "\n")) {
		sequence = append(sequence, strings.Fields(c)[1])
	}
	if got := strings.Join(sequence, ","); got != "up,status" {
		t.Errorf("the preview job's script runs groundwork %s, want up and status (the smoke test)", got)
	}
	if a := strings.Join(preview.AfterScript, "\n"); !strings.Contains(a, "groundwork down "+gitlabEnv) || !strings.Contains(a, "--purge-repo") {
		t.Errorf("the preview job's after_script does not tear the instance down (groundwork down --purge-repo)")
	}
	if !strings.Contains(strings.Join(preview.Script, "\n"), "jq -r .kubeconfig up.json") {
		t.Errorf("the preview job does not read the kubeconfig from up's JSON with jq")
	}
	gc, ok := jobs[gates["schedule"]]
	if !ok || !strings.Contains(strings.Join(gc.Script, "\n"), "groundwork gc "+gitlabEnv) {
		t.Errorf("no job gated on $CI_PIPELINE_SOURCE == \"schedule\" runs groundwork gc")
	}
}
