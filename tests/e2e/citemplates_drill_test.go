package e2e

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// drillCall is the command line both drill templates run: the drill of the
// environment, its HTML report into drill-report.html (the artifact) and
// its JSON document on stdout.
var drillCall = regexp.MustCompile(`^groundwork drill ` + regexp.QuoteMeta(drillEnv) + `( .*)? --report drill-report\.html --output json > drill\.json$`)

// TestGitHubDrillTemplate checks the weekly drill workflow (linted with
// the others by TestGitHubWorkflowsLint) does what its header says: it runs
// weekly (a cron naming a day of the week) and by hand, runs groundwork
// drill on the example environment with its HTML report, keeps the report
// as an artifact whatever the drill did, and gives the environment's
// secrets to the groundwork step alone. Running its script needs the drill
// command and Docker (for kind), which the harness has not.
func TestGitHubDrillTemplate(t *testing.T) {
	wf := readWorkflow(t, githubDrillTemplate)
	events := wf.events()
	n := events["schedule"]
	if n == nil {
		t.Fatal("no schedule in on:")
	}
	var sched []struct {
		Cron string `yaml:"cron"`
	}
	if err := n.Decode(&sched); err != nil || len(sched) != 1 {
		t.Fatalf("schedule: %v %v", sched, err)
	}
	if f := strings.Fields(sched[0].Cron); len(f) != 5 || f[4] == "*" || f[2] != "*" || f[0] == "*" || f[1] == "*" {
		t.Errorf("cron %q is not weekly (once a week: a minute, an hour and a day of the week)", sched[0].Cron)
	}
	if _, ok := events["workflow_dispatch"]; !ok {
		t.Errorf("no workflow_dispatch (a drill run by hand)")
	}
	if len(events) != 2 {
		t.Errorf("the drill runs on %v; want schedule and workflow_dispatch only (never on a push: it takes its time)", events)
	}
	if wf.Defaults.Run.Shell != "bash" {
		t.Errorf("defaults.run.shell is %q, want bash (-eo pipefail)", wf.Defaults.Run.Shell)
	}
	_, secrets := exampleEnv(t, drillEnv)
	if len(wf.Jobs) != 1 {
		t.Fatalf("jobs: %d, want the drill alone", len(wf.Jobs))
	}
	for name, j := range wf.Jobs {
		drillAt, uploadAt := -1, -1
		for i, s := range j.Steps {
			calls := groundworkCalls(s.Run)
			for _, c := range calls {
				if !drillCall.MatchString(c) {
					t.Errorf("job %s runs %q, want groundwork drill %s --report drill-report.html --output json > drill.json", name, c, drillEnv)
				}
				drillAt = i
			}
			for _, v := range secrets {
				got, given := s.Env[v]
				switch {
				case len(calls) > 0 && got != "${{ secrets."+v+" }}":
					t.Errorf("step %q runs groundwork with %s = %q, want ${{ secrets.%s }}", s.Name, v, got, v)
				case len(calls) == 0 && given:
					t.Errorf("step %q does not run groundwork but is given %s", s.Name, v)
				}
				if _, ok := j.Env[v]; ok {
					t.Errorf("job %s gives %s to every step", name, v)
				}
				if _, ok := wf.Env[v]; ok {
					t.Errorf("the workflow gives %s to every step", v)
				}
			}
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
				uploadAt = i
				if s.If != "always()" {
					t.Errorf("the upload step runs if %q, want always() (a failed drill's report matters most)", s.If)
				}
				if with := readStepWith(t, githubDrillTemplate, name, i); !strings.Contains(with["path"], "drill-report.html") {
					t.Errorf("the upload step keeps %q, not drill-report.html", with["path"])
				}
			}
		}
		if drillAt < 0 || uploadAt < drillAt {
			t.Errorf("job %s: the drill at step %d, the upload at %d: want the drill, then the upload", name, drillAt, uploadAt)
		}
	}
}

// readStepWith is the with: of step i of job in a workflow file.
func readStepWith(t *testing.T, path, job string, i int) map[string]string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	return wf.Jobs[job].Steps[i].With
}

// TestGitLabDrillTemplate checks the GitLab drill job as TestGitLabTemplate
// checks the preview's, so far as can be done without GitLab: job keywords
// only, each tool installed before its first use, the job gated on a
// schedule that sets GROUNDWORK_DRILL (a project's other schedules, gc's,
// do not run it), the secrets from masked variables named in the header,
// the scratch kind cluster reachable in the DinD service and handed to the
// drill with --kubeconfig/--context, and the report kept as an artifact
// whatever the job did. Running its script needs the drill command and
// Docker, which the harness has not.
func TestGitLabDrillTemplate(t *testing.T) {
	doc, jobs, header := readGitLabFile(t, gitlabDrillTemplate)
	if len(jobs) != 1 {
		t.Fatalf("jobs: %v, want the drill alone", slices.Sorted(maps.Keys(jobs)))
	}
	_, secrets := exampleEnv(t, drillEnv)
	for _, v := range secrets {
		if !strings.Contains(header, v) {
			t.Errorf("the header does not name %s among the masked variables to set", v)
		}
	}
	for name, j := range jobs {
		n := doc[name]
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !slices.Contains(gitlabJobKeywords, k) {
				t.Errorf("job %s: %q is not a GitLab CI job keyword", name, k)
			}
		}
		image, _ := j.Image.(string)
		installed := map[string]bool{}
		for _, tool := range imageTools[image] {
			installed[tool] = true
		}
		if len(installed) == 0 {
			t.Errorf("job %s: image %v is not one whose tools the test knows", name, j.Image)
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
					t.Errorf("job %s calls %s (line %d: %q) before installing it", name, m[1], i+1, l)
				}
			}
		}
		for _, v := range secrets {
			if _, ok := j.Variables[v]; ok {
				t.Errorf("job %s sets %s in variables:; secrets come from masked CI/CD variables only", name, v)
			}
		}
		gated := false
		for _, r := range j.Rules {
			if s, _ := r["if"].(string); regexp.MustCompile(`^\$CI_PIPELINE_SOURCE == "schedule" && \$GROUNDWORK_DRILL == "1"$`).MatchString(s) {
				gated = true
			}
		}
		if !gated || len(j.Rules) != 1 {
			t.Errorf("job %s rules %v: want one, if: $CI_PIPELINE_SOURCE == \"schedule\" && $GROUNDWORK_DRILL == \"1\"", name, j.Rules)
		}
		calls := groundworkCalls(strings.Join(j.Script, "\n"))
		if len(calls) != 1 || !drillCall.MatchString(calls[0]) || !strings.Contains(calls[0], `--kubeconfig "$DRILL_KUBECONFIG" --context kind-drill`) {
			t.Errorf("job %s runs %q, want groundwork drill %s --kubeconfig \"$DRILL_KUBECONFIG\" --context kind-drill --report drill-report.html --output json > drill.json", name, calls, drillEnv)
		}
		before := strings.Join(j.BeforeScript, "\n")
		for _, want := range []string{`apiServerAddress: "0.0.0.0"`, "certSANs: [localhost, 127.0.0.1, docker]", "kind create cluster --name drill", "--server https://docker:", `--kubeconfig "$DRILL_KUBECONFIG"`} {
			if !strings.Contains(before, want) {
				t.Errorf("job %s's before_script lacks %q: the scratch cluster in the DinD service would not be reachable", name, want)
			}
		}
		var a struct {
			Artifacts struct {
				When  string   `yaml:"when"`
				Paths []string `yaml:"paths"`
			} `yaml:"artifacts"`
		}
		if err := n.Decode(&a); err != nil {
			t.Fatal(err)
		}
		if a.Artifacts.When != "always" || !slices.Contains(a.Artifacts.Paths, "drill-report.html") {
			t.Errorf("job %s keeps %v when %q; want drill-report.html, when: always", name, a.Artifacts.Paths, a.Artifacts.When)
		}
	}
}
