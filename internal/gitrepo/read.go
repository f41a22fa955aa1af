package gitrepo

import (
	"context"
	"errors"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Snapshot is the content of a folder at the branch head.
type Snapshot struct {
	// Revision is "branch@sha1:<hash>"; empty when the branch has no
	// commit yet.
	Revision string
	// Files are the files under the folder, by slash-separated path
	// from the repository root.
	Files map[string][]byte
}

// Read returns the files under root at the branch head, without writing.
// An empty repository or a missing branch reads as an empty snapshot.
func (c *Client) Read(ctx context.Context, root string) (*Snapshot, error) {
	repo, _, fs, err := c.checkout(ctx)
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return &Snapshot{Files: map[string][]byte{}}, nil
		}
		return nil, err
	}
	s := &Snapshot{Files: map[string][]byte{}}
	if head, err := repo.Head(); err == nil {
		s.Revision = c.result(head.Hash(), false).Revision
	}
	s.Files, err = readTree(fs, root)
	return s, err
}

// IsAncestor reports whether the commit ancestor is in the history of the
// commit descendant (a commit is its own ancestor). Revisions may be given
// as "branch@sha1:<hash>" or as hashes.
func (c *Client) IsAncestor(ctx context.Context, ancestor, descendant string) (bool, error) {
	a, d := hashOf(ancestor), hashOf(descendant)
	if a == d {
		return true, nil
	}
	repo, _, _, err := c.checkout(ctx)
	if err != nil {
		return false, err
	}
	dc, err := repo.CommitObject(plumbing.NewHash(d))
	if err != nil {
		return false, nil // not on the branch (yet): not a descendant
	}
	ac, err := repo.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return false, nil
	}
	return ac.IsAncestor(dc)
}

func hashOf(rev string) string {
	if _, h, ok := strings.Cut(rev, "@sha1:"); ok {
		return h
	}
	return rev
}
