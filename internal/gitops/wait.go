package gitops

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Watcher is what the wait loop needs of an engine.
type Watcher interface {
	// Name is the engine's name, for messages.
	Name() string
	// Look looks once: the state of every required object and of every
	// other the engine has, and whether all are ready at revision (or a
	// later one).
	Look(ctx context.Context, revision string, required []string) ([]Object, bool, error)
	// Nudge asks the engine to act now on what the last look found not
	// ready, rather than on its own interval.
	Nudge(ctx context.Context, objs []Object)
	// Hint says where to read more about what is not ready.
	Hint(notReady []Object) string
}

// WaitOptions tune Wait.
type WaitOptions struct {
	// Poll is the interval between looks; 0 means 250ms.
	Poll time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Wait looks until everything is ready at revision or ctx ends, nudging
// what is behind after each look; then it returns a *NotReadyError that
// says what was not ready and why.
func Wait(ctx context.Context, w Watcher, revision string, required []string, o WaitOptions) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	poll := o.Poll
	if poll == 0 {
		poll = 250 * time.Millisecond
	}
	start := now()
	var last []Object
	var lastErr error
	for {
		objs, ok, err := w.Look(ctx, revision, required)
		if err == nil {
			if ok {
				return nil
			}
			last = objs
			w.Nudge(ctx, objs)
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			var bad []Object
			for _, o := range last {
				if !o.Ready {
					bad = append(bad, o)
				}
			}
			err := ctx.Err()
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			return &NotReadyError{Engine: w.Name(), Revision: revision, Waited: now().Sub(start), Objects: bad, Err: err, Hint: w.Hint(bad)}
		case <-time.After(poll):
		}
	}
}

// Revisions tells whether a revision an engine applied is the awaited one
// or came after it, asking Git (IsAncestor) once per revision. Revisions
// may be given as "<branch>@sha1:<hash>" or as the bare hash.
type Revisions struct {
	// IsAncestor, when set, lets a revision that came after the awaited
	// one count: another writer pushed meanwhile, and the engine applied
	// both. Nil: only the awaited revision counts.
	IsAncestor func(ctx context.Context, ancestor, descendant string) (bool, error)

	mu    sync.Mutex
	later map[string]bool
}

// AtLeast reports whether applied is awaited or a descendant of it. An
// empty awaited revision is met by anything.
func (r *Revisions) AtLeast(ctx context.Context, awaited, applied string) bool {
	awaited, applied = Hash(awaited), Hash(applied)
	if awaited == "" || applied == awaited {
		return true
	}
	if r == nil || r.IsAncestor == nil || applied == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok, seen := r.later[awaited+".."+applied]; seen {
		return ok
	}
	ok, err := r.IsAncestor(ctx, awaited, applied)
	if err != nil {
		return false // asked again next time
	}
	if r.later == nil {
		r.later = map[string]bool{}
	}
	r.later[awaited+".."+applied] = ok
	return ok
}

// Hash is a revision's commit hash: "main@sha1:abc" is "abc".
func Hash(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		return rev[i+1:]
	}
	return rev
}
