package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
)

const (
	repoURL  = "file:///srv/git/fleet.git"
	revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
)

// preview is a seed change with one file of every action, as
// gitrepo.Client.Preview would decide it.
func preview() *gitrepo.Preview {
	return &gitrepo.Preview{
		Revision: revision,
		Changes: []gitrepo.FileChange{
			{Path: "clusters/dev/.sops.yaml", Action: gitrepo.ActionConflict,
				Old: []byte("creation_rules: []\n"), New: []byte("# Managed by groundwork\ncreation_rules:\n- age: age1x\n"),
				Reason: "exists without the header, so it is yours"},
			{Path: "clusters/dev/apps.yaml", Action: gitrepo.ActionAdopt,
				Old: []byte("kind: Kustomization\n"), New: []byte("# Managed by groundwork\nkind: Kustomization\n"),
				Reason: "handed over with --adopt-file"},
			{Path: "clusters/dev/apps/kustomization.yaml", Action: gitrepo.ActionUnchanged,
				Old: []byte("resources: []\n"), New: []byte("resources: []\n")},
			{Path: "clusters/dev/flux-system/gotk-sync.yaml", Action: gitrepo.ActionRemove,
				Old: []byte("# Managed by groundwork\nold: 1\n")},
			{Path: "clusters/dev/groundwork/flux.yaml", Action: gitrepo.ActionChange,
				Old: []byte("# Managed by groundwork\na: 1\nversion: v2.3.0\nc: 3\n"), New: []byte("# Managed by groundwork\na: 1\nversion: v2.4.0\nc: 3\n")},
			{Path: "clusters/dev/groundwork/sync.yaml", Action: gitrepo.ActionAdd,
				New: []byte("# Managed by groundwork\nkind: GitRepository\n")},
			{Path: "clusters/dev/kustomization.yaml", Action: gitrepo.ActionEdit,
				Old: []byte("resources:\n- apps.yaml\n"), New: []byte("resources:\n- apps.yaml\n- groundwork\n"),
				Reason: "yours: groundwork adds its entries"},
			{Path: "clusters/dev/secrets/README.md", Action: gitrepo.ActionUnchanged,
				Old: []byte("# Secrets\n"), New: []byte("# Secrets\n")},
		},
	}
}

func collision() declared.Collision {
	return declared.Collision{
		Object: declared.Object{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system", File: "clusters/dev/flux-system/gotk-sync.yaml"},
		Ours:   declared.Object{Group: "source.toolkit.fluxcd.io", Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system", File: "clusters/dev/groundwork/sync.yaml"},
	}
}

func TestNewRepository(t *testing.T) {
	for _, diffs := range []bool{false, true} {
		r := NewRepository(repoURL, "main", preview(), []declared.Collision{collision()}, diffs)
		if r.URL != repoURL || r.Branch != "main" || r.Revision != revision || r.Error != "" {
			t.Fatalf("diffs=%v: header %+v", diffs, r)
		}
		if r.Unchanged != 2 {
			t.Errorf("diffs=%v: %d unchanged, want 2", diffs, r.Unchanged)
		}
		if n := r.Conflicts(); n != 2 {
			t.Errorf("diffs=%v: %d conflicts, want 2 (a file and an object)", diffs, n)
		}
		var paths []string
		for _, f := range r.Files {
			paths = append(paths, string(f.Action)+" "+f.Path)
			if f.Action == gitrepo.ActionUnchanged {
				t.Errorf("unchanged files are counted, not listed: %s", f.Path)
			}
			switch {
			case !diffs && f.Diff != "":
				t.Errorf("diffs=false: %s has a diff", f.Path)
			case diffs && f.Action == gitrepo.ActionConflict && f.Diff != "":
				t.Errorf("a conflict has no diff: up would not write it:\n%s", f.Diff)
			case diffs && f.Action != gitrepo.ActionConflict && f.Diff == "":
				t.Errorf("diffs=true: %s %s has no diff", f.Action, f.Path)
			}
		}
		want := "conflict clusters/dev/.sops.yaml,adopt clusters/dev/apps.yaml,remove clusters/dev/flux-system/gotk-sync.yaml," +
			"change clusters/dev/groundwork/flux.yaml,add clusters/dev/groundwork/sync.yaml,edit clusters/dev/kustomization.yaml"
		if got := strings.Join(paths, ","); got != want {
			t.Errorf("diffs=%v: files\n%s\nwant\n%s", diffs, got, want)
		}
		if len(r.Collisions) != 1 || r.Collisions[0] != (RepositoryCollision{Object: "GitRepository flux-system/flux-system",
			File: "clusters/dev/flux-system/gotk-sync.yaml", Ours: "clusters/dev/groundwork/sync.yaml"}) {
			t.Errorf("collisions: %+v", r.Collisions)
		}
	}

	// Nothing to do: no files listed (an empty list, not null, in JSON).
	r := NewRepository(repoURL, "main", &gitrepo.Preview{Changes: []gitrepo.FileChange{{Path: "a", Action: gitrepo.ActionUnchanged}}}, nil, true)
	if r.Files == nil || len(r.Files) != 0 || r.Unchanged != 1 || r.Conflicts() != 0 || r.Revision != "" {
		t.Fatalf("nothing to do: %+v", r)
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"files":[]`) || strings.Contains(string(b), "collisions") {
		t.Fatalf("nothing to do, JSON: %s", b)
	}
}

func TestRepositoryDiffs(t *testing.T) {
	r := NewRepository(repoURL, "main", preview(), nil, true)
	diff := map[string]string{}
	for _, f := range r.Files {
		diff[f.Path] = f.Diff
	}
	cases := []struct{ path, from, to, has string }{
		{"clusters/dev/groundwork/sync.yaml", "--- /dev/null\n", "+++ b/clusters/dev/groundwork/sync.yaml\n", "\n+kind: GitRepository\n"},
		{"clusters/dev/flux-system/gotk-sync.yaml", "--- a/clusters/dev/flux-system/gotk-sync.yaml\n", "+++ /dev/null\n", "\n-old: 1\n"},
		{"clusters/dev/groundwork/flux.yaml", "--- a/clusters/dev/groundwork/flux.yaml\n", "+++ b/clusters/dev/groundwork/flux.yaml\n", "\n a: 1\n-version: v2.3.0\n+version: v2.4.0\n c: 3\n"},
		{"clusters/dev/kustomization.yaml", "--- a/clusters/dev/kustomization.yaml\n", "+++ b/clusters/dev/kustomization.yaml\n", "\n+- groundwork\n"},
		{"clusters/dev/apps.yaml", "--- a/clusters/dev/apps.yaml\n", "+++ b/clusters/dev/apps.yaml\n", "\n+# Managed by groundwork\n kind: Kustomization\n"},
	}
	for _, c := range cases {
		d := diff[c.path]
		if !strings.HasPrefix(d, c.from+c.to+"@@ -") || !strings.Contains(d, c.has) {
			t.Errorf("%s: diff\n%s\nwant it to start with\n%s%s@@ and hold\n%s", c.path, d, c.from, c.to, c.has)
		}
	}
}

// The hunks are those of diff -u (and what git apply takes): an added file
// is all "+" lines from an empty file, a removed one all "-" lines, with no
// line that neither file has.
func TestRepositoryDiffHunks(t *testing.T) {
	cases := []struct {
		name     string
		old, new []byte
		want     string
	}{
		{"added", nil, []byte("a\nb\n"), "--- /dev/null\n+++ b/p\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"removed", []byte("a\nb\n"), nil, "--- a/p\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n"},
		{"last line changed", []byte("a\nb\n"), []byte("a\nc\n"), "--- a/p\n+++ b/p\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"},
	}
	for _, c := range cases {
		if got := unifiedDiff("p", c.old, c.new); got != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
}

func TestRepositoryText(t *testing.T) {
	env := load(t, "../../environments/existing.hcl")
	env.File = "environments/existing.hcl"
	text := func(r *Repository) string {
		t.Helper()
		p := Build(env, Options{StateDir: "/s"})
		p.Repository = r
		var b bytes.Buffer
		if err := p.WriteText(&b, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	out := text(NewRepository(repoURL, "main", preview(), []declared.Collision{collision()}, false))
	for _, want := range []string{
		"\nRepository " + repoURL + " (branch main, at " + revision + "):\n",
		"\n  + clusters/dev/groundwork/sync.yaml\n",
		"\n  ~ clusters/dev/groundwork/flux.yaml\n",
		"\n  ~ clusters/dev/kustomization.yaml (yours: groundwork adds its entries)\n",
		"\n  ~ clusters/dev/apps.yaml (handed over with --adopt-file)\n",
		"\n  - clusters/dev/flux-system/gotk-sync.yaml\n",
		"\n  ! clusters/dev/.sops.yaml: conflict: exists without the header, so it is yours\n",
		"\n  ! GitRepository flux-system/flux-system, declared in clusters/dev/flux-system/gotk-sync.yaml: conflict: groundwork declares it too (in clusters/dev/groundwork/sync.yaml)\n",
		"\n  1 to add, 3 to change, 1 to remove, 2 unchanged; 2 conflicts: up would stop before changing anything",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	for _, never := range []string{"--- a/", "+++ b/", "@@", "apps/kustomization.yaml", "secrets/README.md", "age key does not exist"} {
		if strings.Contains(out, never) {
			t.Errorf("text without diffs holds %q:\n%s", never, out)
		}
	}
	// The repository comes after the steps, before the closing line.
	if i, j := strings.Index(out, "\nRepository "), strings.Index(out, "steps, "); i < strings.Index(out, "7. wait") || j < i {
		t.Errorf("repository section out of place:\n%s", out)
	}

	// -v: the diffs, indented under their file; none for the conflict.
	out = text(NewRepository(repoURL, "main", preview(), nil, true))
	for _, want := range []string{
		"\n  ~ clusters/dev/groundwork/flux.yaml\n      --- a/clusters/dev/groundwork/flux.yaml\n      +++ b/clusters/dev/groundwork/flux.yaml\n      @@ ",
		"\n      -version: v2.3.0\n      +version: v2.4.0\n",
		"\n  + clusters/dev/groundwork/sync.yaml\n      --- /dev/null\n",
		"\n  ! clusters/dev/.sops.yaml: conflict: exists without the header, so it is yours\n  ~ clusters/dev/apps.yaml",
		"; 1 conflict: up would stop",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text -v lacks %q:\n%s", want, out)
		}
	}

	// Nothing to do, an empty repository, a pending key.
	empty := NewRepository(repoURL, "main", &gitrepo.Preview{Changes: []gitrepo.FileChange{{Path: "x", Action: gitrepo.ActionAdd, New: []byte("x\n")}}}, nil, false)
	empty.KeyPending = true
	out = text(empty)
	for _, want := range []string{"(branch main, empty):\n", "\n  + x\n", "age key does not exist yet", "\n  1 to add, 0 to change, 0 to remove, 0 unchanged.\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("empty repository: text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "conflict") {
		t.Errorf("no conflicts, yet:\n%s", out)
	}

	// Not read: said so, nothing else.
	out = text(&Repository{URL: repoURL, Branch: "main", Error: "repository not found", Files: []RepositoryFile{}})
	if !strings.Contains(out, "\nRepository "+repoURL+" (branch main): not read (repository not found)") {
		t.Errorf("not read:\n%s", out)
	}
	if strings.Contains(out, "to add") {
		t.Errorf("an unread repository has no counts:\n%s", out)
	}

	// Without a repository (plan --offline): no section.
	if out = text(nil); strings.Contains(out, "\nRepository ") {
		t.Errorf("offline:\n%s", out)
	}
}

func TestRepositoryJSON(t *testing.T) {
	env := load(t, "../../environments/existing.hcl")
	p := Build(env, Options{StateDir: "/s"})
	p.Repository = NewRepository(repoURL, "main", preview(), []declared.Collision{collision()}, true)
	p.Repository.KeyPending = true
	var b bytes.Buffer
	if err := p.WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Repository struct {
			URL        string `json:"url"`
			Branch     string `json:"branch"`
			Revision   string `json:"revision"`
			Unchanged  int    `json:"unchanged"`
			KeyPending bool   `json:"key_pending"`
			Files      []struct {
				Path, Action, Reason, Diff string
			} `json:"files"`
			Collisions []map[string]string `json:"collisions"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	r := doc.Repository
	if r.URL != repoURL || r.Branch != "main" || r.Revision != revision || r.Unchanged != 2 || !r.KeyPending {
		t.Fatalf("repository: %+v", r)
	}
	actions := map[string]string{}
	for _, f := range r.Files {
		actions[f.Path] = f.Action
		if f.Action != "conflict" && !strings.Contains(f.Diff, "@@") {
			t.Errorf("%s: no diff in JSON", f.Path)
		}
	}
	for p, a := range map[string]string{
		"clusters/dev/.sops.yaml": "conflict", "clusters/dev/apps.yaml": "adopt", "clusters/dev/flux-system/gotk-sync.yaml": "remove",
		"clusters/dev/groundwork/flux.yaml": "change", "clusters/dev/groundwork/sync.yaml": "add", "clusters/dev/kustomization.yaml": "edit",
	} {
		if actions[p] != a {
			t.Errorf("%s: action %q, want %q", p, actions[p], a)
		}
	}
	if len(r.Files) != 6 {
		t.Errorf("%d files, want 6", len(r.Files))
	}
	if len(r.Collisions) != 1 || r.Collisions[0]["object"] != "GitRepository flux-system/flux-system" ||
		r.Collisions[0]["file"] != "clusters/dev/flux-system/gotk-sync.yaml" || r.Collisions[0]["groundwork_file"] != "clusters/dev/groundwork/sync.yaml" {
		t.Errorf("collisions: %+v", r.Collisions)
	}

	// ToJSON carries the same, and nothing without a repository.
	if j := p.ToJSON(nil); j.Repository != p.Repository {
		t.Errorf("ToJSON: %+v", j.Repository)
	}
	p.Repository = nil
	b.Reset()
	p.WriteJSON(&b, nil)
	if strings.Contains(b.String(), `"repository"`) {
		t.Errorf("no repository read, yet:\n%s", b.String())
	}

	// Not read: the error, and an empty list of files.
	p.Repository = &Repository{URL: repoURL, Branch: "main", Error: "boom", Files: []RepositoryFile{}}
	b.Reset()
	p.WriteJSON(&b, nil)
	if !strings.Contains(b.String(), `"error": "boom"`) || !strings.Contains(b.String(), `"files": []`) {
		t.Errorf("not read:\n%s", b.String())
	}
}
