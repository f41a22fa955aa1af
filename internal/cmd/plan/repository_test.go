package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
)

// These tests read real bare repositories made and inspected with the real
// git binary.

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}

// bareRepo makes an empty bare repository with main as its default branch.
func bareRepo(t *testing.T) (dir, url string) { return gittest.Bare(t) }

// userCommit commits files to main of the bare repository as a user would.
func userCommit(t *testing.T, bareDir string, files map[string]string) {
	t.Helper()
	gittest.Commit(t, bareDir, "main", files)
}

// head is the commit main points at in the bare repository ("" when the
// repository is empty).
func head(t *testing.T, bareDir string) string { return gittest.Head(t, bareDir, "main") }

// repoSpec writes an environment file for an existing cluster seeded into
// url at clusters/dev, with a SOPS age key file that does not exist yet.
func repoSpec(t *testing.T, url string) (file, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	keyFile = filepath.Join(dir, "keys", "dev.agekey")
	file = filepath.Join(dir, "dev.hcl")
	src := `environment "dev" {
  cluster "existing" {
    kubeconfig = "` + filepath.Join(dir, "kubeconfig") + `"
  }
  gitops {
    repository {
      url  = "` + url + `"
      path = "clusters/dev"
    }
  }
  secrets {
    provider = "sops"
    key_store "file" { path = "` + keyFile + `" }
  }
}`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, keyFile
}

type planRun struct {
	out, errOut string
	err         error
}

func runPlan(t *testing.T, opts Options, json, verbose bool) planRun {
	t.Helper()
	f, s := cmdtest.NewFactory()
	f.Globals.StateDir = t.TempDir()
	f.Globals.Verbose = verbose
	if json {
		f.Globals.Output = cmdutil.OutputJSON
	}
	opts.F = f
	err := Run(&opts)
	// plan writes nowhere: not in the state directory, not beside the
	// environment file (where the key and kubeconfig would go).
	for _, dir := range []string{f.Globals.StateDir, filepath.Dir(opts.File)} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != filepath.Base(opts.File) {
				t.Errorf("plan wrote %s", filepath.Join(dir, e.Name()))
			}
		}
	}
	return planRun{out: s.Out.String(), errOut: s.ErrOut.String(), err: err}
}

func planJSON(t *testing.T, r planRun) plan.JSON {
	t.Helper()
	var doc plan.JSON
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.out)
	}
	return doc
}

func fileActions(r *plan.Repository) map[string]string {
	out := map[string]string{}
	for _, f := range r.Files {
		out[f.Path] = string(f.Action)
	}
	return out
}

const sopsPath = "clusters/dev/.sops.yaml"

func TestRepositoryEmpty(t *testing.T) {
	dir, url := bareRepo(t)
	file, keyFile := repoSpec(t, url)
	r := runPlan(t, Options{File: file}, false, false)
	if r.err != nil {
		t.Fatalf("%v\n%s%s", r.err, r.out, r.errOut)
	}
	for _, want := range []string{
		"\nRepository " + url + " (branch main, empty):\n",
		"\n  + clusters/dev/groundwork/sync.yaml\n",
		"\n  + clusters/dev/groundwork/kustomization.yaml\n",
		"\n  + clusters/dev/kustomization.yaml\n",
		"\n  + " + sopsPath + "\n",
		"\n  + clusters/dev/apps/kustomization.yaml\n",
		"age key does not exist yet",
		" to change, 0 to remove, 0 unchanged.\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "conflict") || strings.Contains(r.out, "\n  ~ ") || strings.Contains(r.out, "\n  - ") {
		t.Errorf("an empty repository has only files to add:\n%s", r.out)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("plan created the age key %s (%v): only up may", keyFile, err)
	}
	if _, err := os.Stat(filepath.Dir(keyFile)); !os.IsNotExist(err) {
		t.Errorf("plan made the key's folder (%v)", err)
	}
	if h := head(t, dir); h != "" {
		t.Errorf("plan pushed %s to an empty repository", h)
	}

	doc := planJSON(t, runPlan(t, Options{File: file}, true, false))
	if doc.Repository == nil || doc.Repository.Error != "" || !doc.Repository.KeyPending || doc.Repository.Revision != "" || doc.Repository.Conflicts() != 0 {
		t.Fatalf("JSON repository: %+v", doc.Repository)
	}
	for p, a := range fileActions(doc.Repository) {
		if a != "add" {
			t.Errorf("%s: %s, want add", p, a)
		}
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("plan --output json created the age key (%v)", err)
	}
}

func TestRepositoryConflictAndAdopt(t *testing.T) {
	dir, url := bareRepo(t)
	userCommit(t, dir, map[string]string{
		"README.md": "# fleet\n",
		sopsPath:    "creation_rules:\n  - path_regex: .*\n    age: age1mine\n",
	})
	before := head(t, dir)
	file, keyFile := repoSpec(t, url)

	r := runPlan(t, Options{File: file}, false, false)
	if r.err != nil {
		t.Fatalf("a conflict is shown, not an error: %v\n%s%s", r.err, r.out, r.errOut)
	}
	for _, want := range []string{
		"\n  ! " + sopsPath + ": conflict: ",
		"; 1 conflict: up would stop before changing anything",
		"(branch main, at main@sha1:" + before + "):\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}

	doc := planJSON(t, runPlan(t, Options{File: file}, true, false))
	if doc.Repository == nil {
		t.Fatalf("no repository in JSON")
	}
	if a := fileActions(doc.Repository)[sopsPath]; a != "conflict" {
		t.Fatalf("%s: %q, want conflict; files %v", sopsPath, a, fileActions(doc.Repository))
	}
	if doc.Repository.Conflicts() != 1 || doc.Repository.Revision != "main@sha1:"+before {
		t.Errorf("repository: %+v", doc.Repository)
	}

	// Handed over: adopted, no conflict left.
	doc = planJSON(t, runPlan(t, Options{File: file, AdoptFiles: []string{sopsPath}}, true, false))
	if a := fileActions(doc.Repository)[sopsPath]; a != "adopt" {
		t.Fatalf("--adopt-file %s: %q, want adopt; files %v", sopsPath, a, fileActions(doc.Repository))
	}
	if n := doc.Repository.Conflicts(); n != 0 {
		t.Errorf("--adopt-file: %d conflicts left", n)
	}
	r = runPlan(t, Options{File: file, AdoptFiles: []string{sopsPath}}, false, false)
	if !strings.Contains(r.out, "\n  ~ "+sopsPath+" (handed over with --adopt-file)\n") || strings.Contains(r.out, "conflict") {
		t.Errorf("--adopt-file, text:\n%s", r.out)
	}

	if after := head(t, dir); after != before {
		t.Errorf("plan moved main from %s to %s", before, after)
	}
	if n := gitCLI(t, dir, "rev-list", "--count", "--all"); n != "1" {
		t.Errorf("%s commits in the repository, want the user's one", n)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("plan created the age key (%v)", err)
	}
}

func TestRepositoryVerboseDiff(t *testing.T) {
	dir, url := bareRepo(t)
	// A file groundwork manages, with content it no longer renders.
	userCommit(t, dir, map[string]string{
		"clusters/dev/groundwork/sync.yaml": "# Managed by groundwork: an older rendering.\nold: true\n",
	})
	before := head(t, dir)
	file, _ := repoSpec(t, url)

	r := runPlan(t, Options{File: file}, false, true)
	if r.err != nil {
		t.Fatalf("%v\n%s%s", r.err, r.out, r.errOut)
	}
	for _, want := range []string{
		"\n  ~ clusters/dev/groundwork/sync.yaml\n      --- a/clusters/dev/groundwork/sync.yaml\n      +++ b/clusters/dev/groundwork/sync.yaml\n      @@ ",
		"\n      -old: true\n",
		"\n  + clusters/dev/groundwork/kustomization.yaml\n      --- /dev/null\n      +++ b/clusters/dev/groundwork/kustomization.yaml\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("plan -v lacks %q:\n%s", want, r.out)
		}
	}

	// Without -v: the file, no diff.
	r = runPlan(t, Options{File: file}, false, false)
	if !strings.Contains(r.out, "\n  ~ clusters/dev/groundwork/sync.yaml\n") || strings.Contains(r.out, "--- a/") || strings.Contains(r.out, "@@") {
		t.Errorf("plan without -v:\n%s", r.out)
	}

	doc := planJSON(t, runPlan(t, Options{File: file}, true, true))
	var found bool
	for _, f := range doc.Repository.Files {
		if f.Path == "clusters/dev/groundwork/sync.yaml" {
			found = true
			if f.Action != "change" || !strings.Contains(f.Diff, "-old: true\n") {
				t.Errorf("JSON -v: %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("JSON -v: no sync.yaml in %v", fileActions(doc.Repository))
	}
	if after := head(t, dir); after != before {
		t.Errorf("plan moved main from %s to %s", before, after)
	}
}

func TestRepositoryOffline(t *testing.T) {
	_, url := bareRepo(t)
	file, _ := repoSpec(t, url)
	r := runPlan(t, Options{File: file, Offline: true}, false, false)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Contains(r.out, "\nRepository ") || strings.Contains(r.out, "to add,") {
		t.Errorf("--offline shows the repository:\n%s", r.out)
	}
	r = runPlan(t, Options{File: file, Offline: true}, true, false)
	if doc := planJSON(t, r); doc.Repository != nil || strings.Contains(r.out, `"repository"`) {
		t.Errorf("--offline, JSON has a repository:\n%s", r.out)
	}
}

func TestRepositoryUnreachable(t *testing.T) {
	url := "file://" + filepath.Join(t.TempDir(), "nonexistent.git")
	file, keyFile := repoSpec(t, url)
	r := runPlan(t, Options{File: file}, false, false)
	if r.err != nil {
		t.Fatalf("plan must go on without the repository: %v\n%s%s", r.err, r.out, r.errOut)
	}
	if !strings.Contains(r.out, "\nRepository "+url+" (branch main): not read (") {
		t.Errorf("stdout does not say the repository was not read:\n%s", r.out)
	}
	if !strings.Contains(r.out, "7 steps, 7 to run") {
		t.Errorf("the steps are still shown:\n%s", r.out)
	}
	doc := planJSON(t, runPlan(t, Options{File: file}, true, false))
	if doc.Repository == nil || doc.Repository.Error == "" || len(doc.Repository.Files) != 0 {
		t.Errorf("JSON: %+v", doc.Repository)
	}
	if _, err := os.Stat(strings.TrimPrefix(url, "file://")); !os.IsNotExist(err) {
		t.Errorf("plan made the repository (%v)", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("plan created the age key (%v)", err)
	}
}

func TestRepositoryFlagsToOptions(t *testing.T) {
	cases := []struct {
		args    []string
		offline bool
		adopt   []string
	}{
		{[]string{"dev.hcl"}, false, nil},
		{[]string{"dev.hcl", "--offline"}, true, nil},
		{[]string{"dev.hcl", "--adopt-file", "clusters/dev/apps.yaml"}, false, []string{"clusters/dev/apps.yaml"}},
		{[]string{"dev.hcl", "--adopt-file", "a,b", "--adopt-file=c", "--offline"}, true, []string{"a,b", "c"}},
	}
	for _, c := range cases {
		f, _ := cmdtest.NewFactory()
		var got *Options
		cmd := NewCmdPlan(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got.File != "dev.hcl" || got.Offline != c.offline || !reflect.DeepEqual(got.AdoptFiles, c.adopt) {
			t.Errorf("%v: options %+v", c.args, got)
		}
	}
}
