package gitrepo

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// These tests check what Apply does, file by file, against real bare
// repositories: what it writes, what it refuses and what Preview says it
// would do.

// blob is a file at rev as git stores it, byte for byte (show trims).
func blob(t *testing.T, bareDir, rev, p string) string {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "blob", rev+":"+p)
	cmd.Dir = bareDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file blob %s:%s: %v", rev, p, err)
	}
	return string(out)
}

// tracked lists the files of the branch.
func tracked(t *testing.T, bareDir, rev string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, p := range strings.Split(gitCLI(t, bareDir, "ls-tree", "-r", "--name-only", rev), "\n") {
		if p != "" {
			out[p] = true
		}
	}
	return out
}

// actions maps each path of a preview to its action.
func actions(p *Preview) map[string]Action {
	out := map[string]Action{}
	for _, c := range p.Changes {
		if _, dup := out[c.Path]; dup {
			out[c.Path] = "duplicate"
			continue
		}
		out[c.Path] = c.Action
	}
	return out
}

func preview(t *testing.T, c *Client, ch Change) *Preview {
	t.Helper()
	p, err := c.Preview(context.Background(), ch)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	return p
}

// A file groundwork wants to write that is there without the header is the
// user's: Apply refuses the whole change, commits and pushes nothing, and
// says how to get out.
func TestUserFileIsAConflict(t *testing.T) {
	dir, url := bare(t)
	// No trailing newline, CRLF and trailing blanks: any rewrite shows.
	users := "apiVersion: v1\r\nkind: ConfigMap   \r\nmetadata:\r\n  name: mine\r\n# the user's own"
	headerLater := "# my notes\n" + ManagedMarker + "\nkind: ConfigMap\n"
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/a.yaml":   users,
		"clusters/dev/c.yaml":   headerLater, // the header must be the first line
		"clusters/dev/old.yaml": ManagedMarker + "\nno longer rendered\n",
		"README.md":             "fleet\n",
	})
	head := gitCLI(t, dir, "rev-parse", "main")
	c := client(url)
	ch := change(managed("a.yaml", "a: groundwork"), managed("b.yaml", "b: groundwork"), managed("c.yaml", "c: groundwork"))

	p := preview(t, c, ch)
	if p.Revision != "main@sha1:"+head {
		t.Errorf("preview revision %q, want main@sha1:%s", p.Revision, head)
	}
	want := map[string]Action{
		"clusters/dev/a.yaml":   ActionConflict,
		"clusters/dev/b.yaml":   ActionAdd,
		"clusters/dev/c.yaml":   ActionConflict,
		"clusters/dev/old.yaml": ActionRemove,
	}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	if got := Conflicts(p.Changes); len(got) != 2 || got[0].Path != "clusters/dev/a.yaml" || got[1].Path != "clusters/dev/c.yaml" {
		t.Errorf("Conflicts: %+v", got)
	}
	for _, fc := range p.Changes {
		if fc.Path == "clusters/dev/a.yaml" {
			if string(fc.Old) != users || !strings.HasPrefix(string(fc.New), ManagedMarker) {
				t.Errorf("conflict's Old/New: %q / %q", fc.Old, fc.New)
			}
			if !strings.Contains(fc.Reason, ManagedMarker) {
				t.Errorf("conflict's reason does not name the header: %q", fc.Reason)
			}
		}
	}

	res, err := c.Apply(context.Background(), ch)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ConflictError, got %v (%+v)", err, res)
	}
	if res.Changed {
		t.Errorf("a refused change reports Changed: %+v", res)
	}
	if len(ce.Conflicts) != 2 || ce.Conflicts[0].Path != "clusters/dev/a.yaml" || ce.Conflicts[1].Path != "clusters/dev/c.yaml" {
		t.Errorf("conflicts: %+v", ce.Conflicts)
	}
	if ce.URL != url || ce.Branch != "main" || ce.Revision != "main@sha1:"+head {
		t.Errorf("error's URL/Branch/Revision: %q %q %q", ce.URL, ce.Branch, ce.Revision)
	}
	msg := err.Error()
	for _, s := range []string{"clusters/dev/a.yaml", "clusters/dev/c.yaml", "--adopt-file", ManagedMarker, "Nothing was committed or pushed"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message does not say %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "clusters/dev/b.yaml") {
		t.Errorf("message names a file that is no conflict:\n%s", msg)
	}

	if got := gitCLI(t, dir, "rev-parse", "main"); got != head {
		t.Fatalf("the branch moved from %s to %s although the change was refused", head, got)
	}
	if got := blob(t, dir, "main", "clusters/dev/a.yaml"); got != users {
		t.Errorf("the user's file changed: %q", got)
	}
	if got := blob(t, dir, "main", "clusters/dev/c.yaml"); got != headerLater {
		t.Errorf("the user's file changed: %q", got)
	}
	files := tracked(t, dir, "main")
	if !files["clusters/dev/old.yaml"] || files["clusters/dev/b.yaml"] {
		t.Errorf("a refused change touched other files: %v", files)
	}
}

// Change.Adopt hands a user's file over: it is replaced, and only the
// files listed are.
func TestAdoptReplacesTheUsersFile(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/a.yaml": "kind: ConfigMap\n",
		"clusters/dev/x.yaml": "kind: Secret\n",
	})
	c := client(url)
	a := managed("a.yaml", "a: groundwork")

	// Adopting one file leaves the other a conflict.
	partial := change(a, managed("x.yaml", "x: groundwork"))
	partial.Adopt = []string{"clusters/dev/a.yaml"}
	if got := actions(preview(t, c, partial)); got["clusters/dev/a.yaml"] != ActionAdopt || got["clusters/dev/x.yaml"] != ActionConflict {
		t.Errorf("adopting a.yaml only: %v", got)
	}
	head := gitCLI(t, dir, "rev-parse", "main")
	var ce *ConflictError
	if _, err := c.Apply(context.Background(), partial); !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Path != "clusters/dev/x.yaml" {
		t.Fatalf("x.yaml was not handed over: want a conflict on it alone, got %v", err)
	}
	if got := gitCLI(t, dir, "rev-parse", "main"); got != head {
		t.Fatalf("the branch moved although a file was still in conflict")
	}

	ch := change(a, managed("b.yaml", "b: groundwork"))
	ch.Adopt = []string{"clusters/dev/a.yaml"}
	p := preview(t, c, ch)
	want := map[string]Action{"clusters/dev/a.yaml": ActionAdopt, "clusters/dev/b.yaml": ActionAdd}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	for _, fc := range p.Changes {
		if fc.Action == ActionAdopt && (fc.Reason == "" || string(fc.Old) != "kind: ConfigMap\n") {
			t.Errorf("adoption: reason %q, old %q", fc.Reason, fc.Old)
		}
	}
	res, err := c.Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("adopt: %+v %v", res, err)
	}
	if got := gitCLI(t, dir, "rev-parse", "main"); got != res.Hash {
		t.Errorf("branch at %s, want %s", got, res.Hash)
	}
	if got := blob(t, dir, "main", "clusters/dev/a.yaml"); got != string(a.Data) {
		t.Errorf("adopted file holds %q, want %q", got, a.Data)
	}
	if got := blob(t, dir, "main", "clusters/dev/x.yaml"); got != "kind: Secret\n" {
		t.Errorf("a file not rendered nor adopted was touched: %q", got)
	}
	// Now groundwork's: no adoption needed any more.
	if got := actions(preview(t, c, change(a, managed("b.yaml", "b: groundwork")))); got["clusters/dev/a.yaml"] != ActionUnchanged {
		t.Errorf("after adoption: %v", got)
	}
}

// A managed file is overwritten, a managed file no longer rendered removed,
// a user's file not rendered left alone.
func TestChangeRemoveAndKeep(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/a.yaml":            ManagedMarker + "\na: old\n",
		"clusters/dev/gone.yaml":         ManagedMarker + "\ngone\n",
		"clusters/dev/sub/gone.yaml":     ManagedMarker + ": with more words\ngone\n",
		"clusters/dev/mine.yaml":         "kind: ConfigMap\n",
		"clusters/dev/sub/mine.yaml":     "# not " + ManagedMarker + "\n",
		"clusters/dev/notes.txt":         "\n" + ManagedMarker + "\n", // the header, but not first
		"clusters/prod/kustomization.md": ManagedMarker + "\nanother environment\n",
	})
	c := client(url)
	a := managed("a.yaml", "a: new")
	ch := change(a)
	want := map[string]Action{
		"clusters/dev/a.yaml":        ActionChange,
		"clusters/dev/gone.yaml":     ActionRemove,
		"clusters/dev/sub/gone.yaml": ActionRemove,
	}
	if got := actions(preview(t, c, ch)); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	res, err := c.Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got := blob(t, dir, "main", "clusters/dev/a.yaml"); got != string(a.Data) {
		t.Errorf("managed file holds %q, want %q", got, a.Data)
	}
	files := tracked(t, dir, "main")
	for _, p := range []string{"clusters/dev/gone.yaml", "clusters/dev/sub/gone.yaml"} {
		if files[p] {
			t.Errorf("%s is managed and no longer rendered: it must be removed", p)
		}
	}
	for p, data := range map[string]string{
		"clusters/dev/mine.yaml":         "kind: ConfigMap\n",
		"clusters/dev/sub/mine.yaml":     "# not " + ManagedMarker + "\n",
		"clusters/dev/notes.txt":         "\n" + ManagedMarker + "\n",
		"clusters/prod/kustomization.md": ManagedMarker + "\nanother environment\n",
	} {
		if !files[p] {
			t.Errorf("%s was removed", p)
		} else if got := blob(t, dir, "main", p); got != data {
			t.Errorf("%s changed: %q", p, got)
		}
	}
	if n := gitCLI(t, dir, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("%s commits, want 2", n)
	}
}

// File.Build sees the file, whether it is managed and the tree under Root;
// what it returns is written; on a user's file it is an edit, never a
// conflict; a second Apply commits nothing.
func TestBuildEditsTheUsersFile(t *testing.T) {
	dir, url := bare(t)
	userKust := "# mine\nresources:\n  - mine.yaml\n"
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/kustomization.yaml": userKust,
		"clusters/dev/mine.yaml":          "kind: ConfigMap\n",
		"clusters/prod/other.yaml":        "outside the root\n",
		"README.md":                       "fleet\n",
	})
	type call struct {
		existing []byte
		managed  bool
		tree     map[string][]byte
	}
	var calls []call
	build := func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error) {
		calls = append(calls, call{existing, managed, tree})
		if strings.Contains(string(existing), "- groundwork\n") {
			return existing, nil
		}
		return append(append([]byte{}, existing...), "  - groundwork\n"...), nil
	}
	k := File{Path: "clusters/dev/kustomization.yaml", Data: []byte(ManagedMarker + "\nresources:\n  - groundwork\n"), Build: build}
	ch := change(k, managed("groundwork/a.yaml", "a"))
	c := client(url)

	p := preview(t, c, ch)
	if len(calls) != 1 {
		t.Fatalf("Build called %d times by Preview, want 1", len(calls))
	}
	got := calls[0]
	if string(got.existing) != userKust || got.managed {
		t.Errorf("Build got existing %q, managed %t; want the user's file, false", got.existing, got.managed)
	}
	wantTree := map[string][]byte{
		"clusters/dev/kustomization.yaml": []byte(userKust),
		"clusters/dev/mine.yaml":          []byte("kind: ConfigMap\n"),
	}
	if !reflect.DeepEqual(got.tree, wantTree) {
		t.Errorf("Build got the tree %q, want %q", got.tree, wantTree)
	}
	wantEdit := userKust + "  - groundwork\n"
	for _, fc := range p.Changes {
		if fc.Path == k.Path {
			if fc.Action != ActionEdit || fc.Reason == "" || string(fc.New) != wantEdit {
				t.Errorf("the user's kustomization.yaml: %s (%q) to %q", fc.Action, fc.Reason, fc.New)
			}
		}
	}
	if len(Conflicts(p.Changes)) != 0 {
		t.Errorf("a file with Build is never a conflict: %+v", p.Changes)
	}

	res, err := c.Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got := blob(t, dir, "main", k.Path); got != wantEdit {
		t.Errorf("written %q, want Build's %q", got, wantEdit)
	}
	if got := blob(t, dir, "main", "clusters/dev/mine.yaml"); got != "kind: ConfigMap\n" {
		t.Errorf("a user's file was touched: %q", got)
	}
	count := gitCLI(t, dir, "rev-list", "--count", "main")
	again, err := c.Apply(context.Background(), ch)
	if err != nil || again.Changed || again.Hash != res.Hash {
		t.Fatalf("second apply must change nothing: %+v %v", again, err)
	}
	if n := gitCLI(t, dir, "rev-list", "--count", "main"); n != count {
		t.Errorf("second apply made a commit: %s commits, had %s", n, count)
	}
	last := calls[len(calls)-1]
	if string(last.existing) != wantEdit || last.managed || string(last.tree["clusters/dev/groundwork/a.yaml"]) != string(ch.Files[1].Data) {
		t.Errorf("Build on the second apply got existing %q, managed %t, tree %q", last.existing, last.managed, last.tree)
	}
	if got := actions(preview(t, c, ch)); got[k.Path] != ActionUnchanged {
		t.Errorf("after apply: %v", got)
	}
}

// Build on a missing file adds, on a managed one changes; an error of
// Build stops the change.
func TestBuildAddChangeAndError(t *testing.T) {
	dir, url := bare(t)
	c := client(url)
	var gotExisting []byte
	var gotManaged bool
	calls := 0
	build := func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error) {
		calls++
		gotExisting, gotManaged = existing, managed
		return []byte(ManagedMarker + "\nbuilt " + string(rune('0'+len(tree))) + "\n"), nil
	}
	k := File{Path: "clusters/dev/kustomization.yaml", Data: []byte("unused\n"), Build: build}
	ch := change(k)
	p := preview(t, c, ch)
	if calls != 1 || gotExisting != nil || gotManaged {
		t.Errorf("Build on an empty repository: %d calls, existing %q, managed %t", calls, gotExisting, gotManaged)
	}
	if got := actions(p); got[k.Path] != ActionAdd {
		t.Errorf("preview: %v", got)
	}
	if _, err := c.Apply(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	if got := blob(t, dir, "main", k.Path); got != ManagedMarker+"\nbuilt 0\n" {
		t.Errorf("written %q, want Build's output", got)
	}
	userCommit(t, dir, "main", map[string]string{"clusters/dev/x.yaml": "kind: ConfigMap\n"})
	p = preview(t, c, ch)
	if !gotManaged || string(gotExisting) != ManagedMarker+"\nbuilt 0\n" {
		t.Errorf("Build on groundwork's file: existing %q, managed %t", gotExisting, gotManaged)
	}
	if got := actions(p); got[k.Path] != ActionChange {
		t.Errorf("preview: %v", got)
	}

	head := gitCLI(t, dir, "rev-parse", "main")
	failing := change(File{Path: k.Path, Build: func([]byte, bool, map[string][]byte) ([]byte, error) {
		return nil, errors.New("cannot edit")
	}}, managed("b.yaml", "b"))
	if _, err := c.Apply(context.Background(), failing); err == nil || !strings.Contains(err.Error(), "cannot edit") || !strings.Contains(err.Error(), k.Path) {
		t.Errorf("Build's error: %v", err)
	}
	if got := gitCLI(t, dir, "rev-parse", "main"); got != head {
		t.Errorf("the branch moved although Build failed")
	}
}

// AddOnly changes (secret set) and Edit changes (deploy) write over the
// user's files, and remove nothing.
func TestAddOnlyAndEditNeverConflict(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/secrets/x.yaml":  "kind: Secret\n# the user's\n",
		"clusters/dev/apps/shop.yaml":  "image: shop:1\n",
		"clusters/dev/groundwork.yaml": ManagedMarker + "\nnot in this change\n",
	})
	c := client(url)
	secret := File{Path: "clusters/dev/secrets/x.yaml", Data: []byte("kind: Secret\ndata: {}\n")}
	ch := Change{Root: "clusters/dev", AddOnly: true, Message: "secret set", Files: []File{secret}}
	want := map[string]Action{"clusters/dev/secrets/x.yaml": ActionChange}
	if got := actions(preview(t, c, ch)); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	res, err := c.Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("AddOnly over a user's file: %+v %v", res, err)
	}
	if got := blob(t, dir, "main", secret.Path); got != string(secret.Data) {
		t.Errorf("written %q, want %q", got, secret.Data)
	}

	deploy := Change{Root: "clusters/dev", Message: "deploy", Edit: func(current map[string][]byte) ([]File, error) {
		return []File{{Path: "clusters/dev/apps/shop.yaml", Data: []byte(strings.Replace(string(current["clusters/dev/apps/shop.yaml"]), "shop:1", "shop:2", 1))}}, nil
	}}
	res, err = c.Apply(context.Background(), deploy)
	if err != nil || !res.Changed {
		t.Fatalf("Edit over a user's file: %+v %v", res, err)
	}
	if got := blob(t, dir, "main", "clusters/dev/apps/shop.yaml"); got != "image: shop:2\n" {
		t.Errorf("deploy wrote %q", got)
	}
	if !tracked(t, dir, "main")["clusters/dev/groundwork.yaml"] {
		t.Errorf("AddOnly or Edit removed a managed file it does not name")
	}
}

// Preview writes nothing: on an empty repository every file is an add and
// there is no revision.
func TestPreviewEmptyRepository(t *testing.T) {
	dir, url := bare(t)
	c := client(url)
	ch := change(managed("a.yaml", "a"), managed("sub/b.yaml", "b"),
		File{Path: "clusters/dev/apps/kustomization.yaml", Data: []byte("resources: []\n"), SeedOnly: true},
		File{Path: "clusters/dev/kustomization.yaml", Data: []byte("x\n"), Build: func([]byte, bool, map[string][]byte) ([]byte, error) {
			return []byte(ManagedMarker + "\nbuilt\n"), nil
		}})
	p := preview(t, c, ch)
	if p.Revision != "" {
		t.Errorf("revision %q, want none", p.Revision)
	}
	want := map[string]Action{}
	for _, f := range ch.Files {
		want[f.Path] = ActionAdd
	}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	if len(p.Pending()) != len(ch.Files) {
		t.Errorf("pending: %+v", p.Pending())
	}
	for _, fc := range p.Changes {
		if fc.Old != nil {
			t.Errorf("%s: Old %q on an empty repository", fc.Path, fc.Old)
		}
	}
	if refs := gitCLI(t, dir, "for-each-ref"); refs != "" {
		t.Errorf("Preview wrote to the repository: %s", refs)
	}
}

// After Apply, Preview of the same change has nothing to do.
func TestPreviewAfterApplyIsUnchanged(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/apps/kustomization.yaml": "resources: [shop.yaml]\n",
		"clusters/dev/apps/shop.yaml":          "kind: ConfigMap\n",
		"clusters/dev/kustomization.yaml":      "resources:\n- apps\n",
	})
	c := client(url)
	ch := change(managed("a.yaml", "a"), managed("groundwork/b.yaml", "b"),
		File{Path: "clusters/dev/apps/kustomization.yaml", Data: []byte("resources: []\n"), SeedOnly: true},
		File{Path: "clusters/dev/kustomization.yaml", Data: []byte("x\n"), Build: func(existing []byte, _ bool, _ map[string][]byte) ([]byte, error) {
			if strings.Contains(string(existing), "- groundwork\n") {
				return existing, nil
			}
			return append(append([]byte{}, existing...), "- groundwork\n"...), nil
		}})
	res, err := c.Apply(context.Background(), ch)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	p := preview(t, c, ch)
	if p.Revision != res.Revision || p.Revision != "main@sha1:"+gitCLI(t, dir, "rev-parse", "main") {
		t.Errorf("preview revision %q, apply's %q", p.Revision, res.Revision)
	}
	want := map[string]Action{}
	for _, f := range ch.Files {
		want[f.Path] = ActionUnchanged
	}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v", got, want)
	}
	if pending := p.Pending(); len(pending) != 0 {
		t.Errorf("pending after apply: %+v", pending)
	}
}

// Preview of an Edit change (deploy) is what Apply would do: Edit's files,
// written AddOnly, and nothing removed.
func TestPreviewOfAnEditChange(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/apps/shop.yaml":  "image: shop:1\n",
		"clusters/dev/groundwork.yaml": ManagedMarker + "\nnot in this change\n",
	})
	deploy := Change{Root: "clusters/dev", Message: "deploy", Edit: func(current map[string][]byte) ([]File, error) {
		return []File{{Path: "clusters/dev/apps/shop.yaml", Data: []byte("image: shop:2\n")}}, nil
	}}
	want := map[string]Action{"clusters/dev/apps/shop.yaml": ActionChange}
	if got := actions(preview(t, client(url), deploy)); !reflect.DeepEqual(got, want) {
		t.Errorf("preview: %v, want %v (what Apply does)", got, want)
	}
}

// TestPurgeKeepsWhatKeepKeeps: down --purge-repo removes the environment's
// files but the ones Keep keeps, and a Build that returns nil removes its
// file (groundwork's) or leaves no file (none there).
func TestPurgeKeepsWhatKeepKeeps(t *testing.T) {
	dir, url := bare(t)
	userCommit(t, dir, "main", map[string]string{
		"clusters/dev/entry.yaml":               "kind: Kustomization\n",
		"clusters/dev/apps/app.yaml":            "kind: ConfigMap\n",
		"clusters/dev/groundwork/sync.yaml":     ManagedMarker + "\n",
		"clusters/dev/kustomization.yaml":       ManagedMarker + "\nresources: [groundwork]\n",
		"clusters/prod/groundwork/sync.yaml":    ManagedMarker + "\n",
		"clusters/prod/kustomization.yaml":      "resources: [groundwork]\n",
		"clusters/prod/apps/kustomization.yaml": "resources: []\n",
	})
	gone := func(existing []byte, managed bool, _ map[string][]byte) ([]byte, error) { return nil, nil }
	ch := Change{Root: "clusters/dev", Purge: true, Message: "remove dev",
		Keep:  func(p string, _ []byte) bool { return p == "clusters/dev/entry.yaml" },
		Files: []File{{Path: "clusters/dev/kustomization.yaml", Build: gone}, {Path: "clusters/dev/missing.yaml", Build: gone}}}
	if _, err := client(url).Apply(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	files := tracked(t, dir, "main")
	for _, want := range []string{"clusters/dev/entry.yaml", "clusters/prod/groundwork/sync.yaml", "clusters/prod/kustomization.yaml"} {
		if !files[want] {
			t.Errorf("%s must stay: %v", want, files)
		}
	}
	for _, gone := range []string{"clusters/dev/apps/app.yaml", "clusters/dev/groundwork/sync.yaml", "clusters/dev/kustomization.yaml", "clusters/dev/missing.yaml"} {
		if files[gone] {
			t.Errorf("%s must be gone: %v", gone, files)
		}
	}
}
