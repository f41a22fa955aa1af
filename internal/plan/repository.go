package plan

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/groundwork-dev/groundwork/internal/declared"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
)

// Repository is what the seed step will do to the GitOps repository, file
// by file, as read from the remote's branch head (as terraform plan shows
// resource changes).
type Repository struct {
	URL      string `json:"url"`
	Branch   string `json:"branch"`
	Revision string `json:"revision,omitempty"`
	// Error says why the remote was not read; nothing else is set then.
	Error string `json:"error,omitempty"`
	// Files are the files up would add, change, edit, adopt or remove,
	// and the conflicts that would stop it.
	Files []RepositoryFile `json:"files"`
	// Collisions are objects the repository declares that groundwork
	// would declare too: up stops on them.
	Collisions []RepositoryCollision `json:"collisions,omitempty"`
	Unchanged  int                   `json:"unchanged"`
	// KeyPending: the age key does not exist yet, so .sops.yaml shows a
	// placeholder for the recipient up creates.
	KeyPending bool `json:"key_pending,omitempty"`
}

// RepositoryFile is one file of Repository.
type RepositoryFile struct {
	Path   string         `json:"path"`
	Action gitrepo.Action `json:"action"`
	Reason string         `json:"reason,omitempty"`
	// Diff is the unified diff of a changed file (plan -v).
	Diff string `json:"diff,omitempty"`
}

// RepositoryCollision is an object both sides declare.
type RepositoryCollision struct {
	Object string `json:"object"`
	File   string `json:"file"`
	Ours   string `json:"groundwork_file"`
}

// NewRepository summarises a preview; diffs adds unified diffs of the
// files whose content changes.
func NewRepository(url, branch string, p *gitrepo.Preview, collisions []declared.Collision, diffs bool) *Repository {
	r := &Repository{URL: url, Branch: branch, Revision: p.Revision, Files: []RepositoryFile{}}
	for _, c := range p.Changes {
		if c.Action == gitrepo.ActionUnchanged {
			r.Unchanged++
			continue
		}
		f := RepositoryFile{Path: c.Path, Action: c.Action, Reason: c.Reason}
		switch {
		case !diffs || c.Action == gitrepo.ActionConflict:
		case sopsenc.IsEncrypted(c.Old) || sopsenc.IsEncrypted(c.New):
			f.Diff = "(encrypted with SOPS: a diff would only show ciphertext)\n"
		default:
			f.Diff = unifiedDiff(c.Path, c.Old, c.New)
		}
		r.Files = append(r.Files, f)
	}
	for _, c := range collisions {
		r.Collisions = append(r.Collisions, RepositoryCollision{Object: c.Object.String(), File: c.Object.File, Ours: c.Ours.File})
	}
	return r
}

// Conflicts counts what would stop up.
func (r *Repository) Conflicts() int {
	n := len(r.Collisions)
	for _, f := range r.Files {
		if f.Action == gitrepo.ActionConflict {
			n++
		}
	}
	return n
}

func unifiedDiff(p string, old, new []byte) string {
	from, to := "a/"+p, "b/"+p
	if old == nil {
		from = "/dev/null"
	}
	if new == nil {
		to = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(old), B: lines(new),
		FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return ""
	}
	return d
}

// lines splits a file into lines that keep their "\n"; a last line
// without one is marked as diff marks it.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	out := strings.SplitAfter(string(b), "\n")
	if out[len(out)-1] == "" {
		return out[:len(out)-1]
	}
	out[len(out)-1] += "\n\\ No newline at end of file\n"
	return out
}

func repoSymbol(a gitrepo.Action) string {
	switch a {
	case gitrepo.ActionAdd:
		return "+"
	case gitrepo.ActionRemove:
		return "-"
	case gitrepo.ActionConflict:
		return "!"
	}
	return "~"
}

func writeRepository(b *strings.Builder, r *Repository) {
	if r.Error != "" {
		fmt.Fprintf(b, "\nRepository %s (branch %s): not read (%s); up reads it before its first change.\n", r.URL, r.Branch, r.Error)
		return
	}
	at := "empty"
	if r.Revision != "" {
		at = "at " + r.Revision
	}
	fmt.Fprintf(b, "\nRepository %s (branch %s, %s):\n", r.URL, r.Branch, at)
	counts := map[gitrepo.Action]int{}
	for _, f := range r.Files {
		counts[f.Action]++
		fmt.Fprintf(b, "  %s %s", repoSymbol(f.Action), f.Path)
		switch f.Action {
		case gitrepo.ActionConflict:
			fmt.Fprintf(b, ": conflict: %s", f.Reason)
		case gitrepo.ActionEdit, gitrepo.ActionAdopt:
			fmt.Fprintf(b, " (%s)", f.Reason)
		}
		b.WriteString("\n")
		if f.Diff != "" {
			for _, l := range strings.SplitAfter(f.Diff, "\n") {
				if l != "" {
					b.WriteString("      " + l)
				}
			}
			if !strings.HasSuffix(f.Diff, "\n") {
				b.WriteString("\n")
			}
		}
	}
	for _, c := range r.Collisions {
		fmt.Fprintf(b, "  ! %s, declared in %s: conflict: groundwork declares it too (in %s)\n", c.Object, c.File, c.Ours)
	}
	if r.KeyPending {
		b.WriteString("  (the age key does not exist yet: .sops.yaml shows a placeholder for the recipient up creates)\n")
	}
	fmt.Fprintf(b, "  %d to add, %d to change, %d to remove, %d unchanged", counts[gitrepo.ActionAdd],
		counts[gitrepo.ActionChange]+counts[gitrepo.ActionEdit]+counts[gitrepo.ActionAdopt], counts[gitrepo.ActionRemove], r.Unchanged)
	if n := r.Conflicts(); n > 0 {
		fmt.Fprintf(b, "; %d conflict%s: up would stop before changing anything (see up --help: --adopt-file)", n, plural(n))
	}
	b.WriteString(".\n")
}
