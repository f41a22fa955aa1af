package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/health"
	"github.com/groundwork-dev/groundwork/internal/kube"
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

// Diagnoser is a Watcher that can say, once a wait has ended, which of the
// engine's own workloads are not ready: a controller crash-looping is why
// nothing applies, and the objects' conditions do not say so.
type Diagnoser interface {
	Diagnose(ctx context.Context) []string
}

// diagnoseTimeout bounds Diagnose, which runs after the wait's context
// ended.
const diagnoseTimeout = 3 * time.Second

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
			e := &NotReadyError{Engine: w.Name(), Revision: revision, Waited: now().Sub(start), Objects: bad, Err: err, Hint: w.Hint(bad)}
			// Not after Ctrl-C: the user asked to stop, not why.
			if d, ok := w.(Diagnoser); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), diagnoseTimeout)
				e.Workloads = d.Diagnose(dctx)
				cancel()
			}
			return e
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

// Diagnose is the Diagnoser both engines share: the workloads of their
// namespace that are not ready, with their pods' reasons (health).
func Diagnose(ctx context.Context, c *kube.Client, namespace string) []string {
	if c == nil || c.Clientset == nil {
		return nil
	}
	bad, err := health.Namespace(ctx, c.Clientset, namespace)
	var out []string
	for _, s := range bad {
		out = append(out, strings.ReplaceAll(s.String(), "\n", "\n  "))
	}
	// Unreadable with nothing found unready says nothing the wait's own
	// error does not.
	if err != nil && len(out) > 0 {
		out = append(out, fmt.Sprintf("(the workloads in %s could not all be read: %v)", namespace, err))
	}
	return out
}
