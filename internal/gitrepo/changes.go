package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5"
)

// Action is what Apply does, or would do, to one file.
type Action string

// Actions, as plan and up report them.
const (
	// ActionAdd writes a file that is missing.
	ActionAdd Action = "add"
	// ActionChange rewrites a file groundwork manages.
	ActionChange Action = "change"
	// ActionEdit changes a file the user owns the way its Build decided
	// (groundwork's entries added to the user's kustomization.yaml).
	ActionEdit Action = "edit"
	// ActionAdopt writes over a file the user handed over (Change.Adopt).
	ActionAdopt Action = "adopt"
	// ActionRemove deletes a managed file no longer rendered.
	ActionRemove Action = "remove"
	// ActionUnchanged: the file already holds what groundwork wants, or
	// is a seed file the user has.
	ActionUnchanged Action = "unchanged"
	// ActionConflict: groundwork wants to write a file that exists
	// without ManagedMarker. Apply refuses the whole change.
	ActionConflict Action = "conflict"
)

// FileChange is one file of a change, as decided against the branch head.
type FileChange struct {
	Path   string `json:"path"`
	Action Action `json:"action"`
	// Old is the file at the head (nil when missing); New what groundwork
	// wants there (nil for a removal).
	Old []byte `json:"-"`
	New []byte `json:"-"`
	// Reason says why, for conflicts, adoptions and edits.
	Reason string `json:"reason,omitempty"`
}

// Conflicts are the changes that are conflicts.
func Conflicts(changes []FileChange) []FileChange {
	var out []FileChange
	for _, c := range changes {
		if c.Action == ActionConflict {
			out = append(out, c)
		}
	}
	return out
}

// ConflictError stops a change that would write over files groundwork does
// not own. Nothing was committed or pushed.
type ConflictError struct {
	URL, Branch, Revision string
	Conflicts             []FileChange
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "groundwork will not write over %d file(s) it does not own in %s (branch %s):\n", len(e.Conflicts), e.URL, e.Branch)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "  %s: %s\n", c.Path, c.Reason)
	}
	b.WriteString("Ways out:\n")
	b.WriteString("  - move or rename your file, or set gitops.repository.path to a folder groundwork can have to itself;\n")
	fmt.Fprintf(&b, "  - or hand the file over: run again with --adopt-file PATH (groundwork replaces its content), or make %q its first line.\n", ManagedMarker)
	b.WriteString("Nothing was committed or pushed.")
	return b.String()
}

// Preview is what Apply would do, read from the branch head.
type Preview struct {
	// Revision is the head it was read at; empty for an empty repository.
	Revision string
	Changes  []FileChange
	// Tree is every file of the branch head, by slash-separated path.
	Tree map[string][]byte
}

// Pending are the changes that are not ActionUnchanged.
func (p *Preview) Pending() []FileChange {
	var out []FileChange
	for _, c := range p.Changes {
		if c.Action != ActionUnchanged {
			out = append(out, c)
		}
	}
	return out
}

// Preview decides, against the branch head and without writing anything,
// what Apply would do with the change.
func (c *Client) Preview(ctx context.Context, ch Change) (*Preview, error) {
	repo, _, fs, err := c.checkout(ctx) // an empty repository checks out as a new one
	if err != nil {
		return nil, err
	}
	p := &Preview{}
	if head, err := repo.Head(); err == nil {
		p.Revision = c.result(head.Hash(), false).Revision
	}
	if p.Tree, err = readTree(fs, ""); err != nil {
		return nil, err
	}
	if err := checkInside(ch.Root, ch.Files); err != nil {
		return nil, err
	}
	if ch, err = editFiles(fs, ch); err != nil {
		return nil, err
	}
	p.Changes, err = decide(fs, ch)
	return p, err
}

// decide works out, file by file, what the change does to the tree in fs:
// managed files are written, seed files only when missing, files with a
// Build as it decides; a file that exists without ManagedMarker is a
// conflict unless handed over; managed files under Root no longer rendered
// are removed (every file with Purge; none with AddOnly, which also writes
// over anything: its callers name the files the user asked for).
func decide(fs billy.Filesystem, ch Change) ([]FileChange, error) {
	tree, err := readTree(fs, ch.Root)
	if err != nil {
		return nil, err
	}
	adopt := map[string]bool{}
	for _, p := range ch.Adopt {
		adopt[p] = true
	}
	var out []FileChange
	want := map[string]bool{}
	for _, f := range ch.Files {
		want[f.Path] = true
		old, exists := tree[f.Path] // every file is under Root (checkInside)
		managed := exists && IsManaged(old)
		fc := FileChange{Path: f.Path, Old: old, New: f.Data}
		switch {
		case f.SeedOnly && exists:
			fc.Action, fc.New = ActionUnchanged, old
		case f.Build != nil:
			// A nil result: no file (removed if there is one).
			data, err := f.Build(old, managed, tree)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Path, err)
			}
			fc.New = data
			switch {
			case data == nil && !exists:
				continue // Build wants no such file
			case data == nil:
				fc.Action = ActionRemove
			case !exists:
				fc.Action = ActionAdd
			case bytes.Equal(old, data):
				fc.Action = ActionUnchanged
			case managed:
				fc.Action = ActionChange
			default:
				fc.Action, fc.Reason = ActionEdit, "yours: groundwork adds its entries and leaves the rest as it is"
			}
		case !exists:
			fc.Action = ActionAdd
		case bytes.Equal(old, f.Data):
			fc.Action = ActionUnchanged
		case managed || ch.AddOnly:
			fc.Action = ActionChange
		case adopt[f.Path]:
			fc.Action, fc.Reason = ActionAdopt, "handed over with --adopt-file"
		default:
			fc.Action = ActionConflict
			fc.Reason = fmt.Sprintf("exists without the %q header, so it is yours; groundwork wants %s there", ManagedMarker, describeFile(f.Data))
		}
		out = append(out, fc)
	}
	if !ch.AddOnly {
		var gone []string
		for p, b := range tree {
			if !want[p] && (IsManaged(b) || ch.Purge && (ch.Keep == nil || !ch.Keep(p, b))) {
				gone = append(gone, p)
			}
		}
		sort.Strings(gone)
		for _, p := range gone {
			out = append(out, FileChange{Path: p, Action: ActionRemove, Old: tree[p]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// describeFile names what a rendered file is for: the first sentence of
// its leading comment, without the marker.
func describeFile(data []byte) string {
	var words []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		words = append(words, strings.TrimSpace(strings.TrimLeft(l, "#")))
	}
	text := strings.TrimSpace(strings.TrimPrefix(strings.Join(words, " "), strings.TrimLeft(ManagedMarker, "# ")))
	text = strings.TrimSpace(strings.TrimLeft(text, ":.,"))
	if i := strings.Index(text, ". "); i >= 0 {
		text = text[:i]
	}
	text = strings.TrimSuffix(text, ".")
	if text == "" {
		return "a file of its own"
	}
	return "its own file (" + text + ")"
}

// readTree reads every file under dir ("" for the whole tree), by
// slash-separated path.
func readTree(fs billy.Filesystem, dir string) (map[string][]byte, error) {
	tree := map[string][]byte{}
	err := walk(fs, dir, func(p string) error {
		b, err := readFile(fs, p)
		tree[p] = b
		return err
	})
	return tree, err
}

func readFile(fs billy.Filesystem, p string) ([]byte, error) {
	f, err := fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// editFiles runs the change's Edit on the files under Root, making its
// files the change's (written AddOnly).
func editFiles(fs billy.Filesystem, ch Change) (Change, error) {
	if ch.Edit == nil {
		return ch, nil
	}
	current, err := readTree(fs, ch.Root)
	if err != nil {
		return ch, err
	}
	files, err := ch.Edit(current)
	if err != nil {
		return ch, err
	}
	if err := checkInside(ch.Root, files); err != nil {
		return ch, err
	}
	ch.Files, ch.AddOnly = files, true
	return ch, nil
}
