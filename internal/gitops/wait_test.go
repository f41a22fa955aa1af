package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeWatcher answers looks from a script: the objects of each look in
// turn (the last one repeated), and records the nudges.
type fakeWatcher struct {
	looks  [][]Object
	errs   []error
	n      int
	nudged [][]Object
}

func (w *fakeWatcher) Name() string { return "Fake" }

func (w *fakeWatcher) Look(_ context.Context, _ string, _ []string) ([]Object, bool, error) {
	i := min(w.n, len(w.looks)-1)
	w.n++
	if i < len(w.errs) && w.errs[i] != nil {
		return nil, false, w.errs[i]
	}
	ok := true
	for _, o := range w.looks[i] {
		ok = ok && o.Ready
	}
	return w.looks[i], ok, nil
}

func (w *fakeWatcher) Nudge(_ context.Context, objs []Object) { w.nudged = append(w.nudged, objs) }

func (w *fakeWatcher) Hint(notReady []Object) string {
	if len(notReady) == 0 {
		return ""
	}
	return "see the logs of " + notReady[0].Name
}

func TestWaitReturnsOnceReady(t *testing.T) {
	w := &fakeWatcher{looks: [][]Object{
		{{Kind: "K", Name: "a", Ready: true}, {Kind: "K", Name: "b"}},
		{{Kind: "K", Name: "a", Ready: true}, {Kind: "K", Name: "b", Ready: true}},
	}}
	if err := Wait(context.Background(), w, "main@sha1:abc", nil, WaitOptions{Poll: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if w.n != 2 || len(w.nudged) != 1 {
		t.Errorf("looks %d, nudges %d; want 2 looks and a nudge after the first", w.n, len(w.nudged))
	}
}

func TestWaitSaysWhatIsNotReady(t *testing.T) {
	w := &fakeWatcher{looks: [][]Object{{
		{Kind: "Kustomization", Name: "apps", Ready: true, Revision: "main@sha1:abc"},
		{Kind: "Kustomization", Name: "infra", Reason: "DependencyNotReady", Message: "dependency 'x' is not ready", Revision: "main@sha1:old"},
		{Kind: "Application", Name: "shop", Sync: "OutOfSync", Health: "Degraded", Message: "progress deadline", Details: []string{"resource Deployment shop/web: Synced, Degraded"}},
		{Kind: "Application", Name: "new", Missing: true},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := Wait(ctx, w, "main@sha1:abc", nil, WaitOptions{Poll: 5 * time.Millisecond})
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("want a *NotReadyError, got %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the error does not wrap the context's")
	}
	if len(nr.Objects) != 3 {
		t.Errorf("not ready: %v, want the three that are not", nr.Objects)
	}
	msg := err.Error()
	for _, want := range []string{
		"Fake had not applied main@sha1:abc after",
		"Kustomization infra: not ready (DependencyNotReady): dependency 'x' is not ready; last applied main@sha1:old",
		"Application shop: OutOfSync, Degraded: progress deadline",
		"      resource Deployment shop/web: Synced, Degraded",
		"Application new does not exist yet",
		"see the logs of infra",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "apps") {
		t.Errorf("a ready object is listed:\n%s", msg)
	}
}

func TestWaitReportsTheLastError(t *testing.T) {
	w := &fakeWatcher{looks: [][]Object{nil}, errs: []error{errors.New("the cluster does not serve Kustomization")}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := Wait(ctx, w, "abc", nil, WaitOptions{Poll: 5 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "the cluster does not serve Kustomization") {
		t.Fatalf("the look's error is not said: %v", err)
	}
}

func TestRevisionsAtLeast(t *testing.T) {
	asked := 0
	r := &Revisions{IsAncestor: func(_ context.Context, a, d string) (bool, error) {
		asked++
		return a == "abc" && d == "def", nil
	}}
	ctx := context.Background()
	for _, c := range []struct {
		awaited, applied string
		want             bool
	}{
		{"main@sha1:abc", "abc", true}, // the same commit, as Flux and Argo CD write it
		{"main@sha1:abc", "main@sha1:abc", true},
		{"", "anything", true},                   // nothing awaited
		{"main@sha1:abc", "", false},             // nothing applied yet
		{"main@sha1:abc", "main@sha1:def", true}, // a later commit
		{"main@sha1:abc", "xyz", false},          // another one
	} {
		if got := r.AtLeast(ctx, c.awaited, c.applied); got != c.want {
			t.Errorf("AtLeast(%q, %q) = %t, want %t", c.awaited, c.applied, got, c.want)
		}
	}
	before := asked
	r.AtLeast(ctx, "main@sha1:abc", "def")
	if asked != before {
		t.Error("Git was asked again about a revision already answered")
	}
	var none *Revisions
	if none.AtLeast(ctx, "abc", "def") {
		t.Error("without Git, only the awaited revision counts")
	}
}

// diagnosingWatcher is a fakeWatcher whose engine has a workload that is
// not ready; Diagnose runs after the wait's context ended, on a context of
// its own.
type diagnosingWatcher struct {
	fakeWatcher
	ctxErr    error
	diagnosed int
}

func (w *diagnosingWatcher) Diagnose(ctx context.Context) []string {
	w.ctxErr = ctx.Err()
	w.diagnosed++
	return []string{"Deployment fake-system/applier: 0/1 replicas ready\n    pod applier-1 (Running): container manager waiting: CrashLoopBackOff back-off 40s"}
}

func TestWaitNamesTheEngineWorkloadsNotReady(t *testing.T) {
	w := &diagnosingWatcher{fakeWatcher: fakeWatcher{looks: [][]Object{{{Kind: "Kustomization", Name: "apps", Reason: "Progressing"}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := Wait(ctx, w, "main@sha1:abc", nil, WaitOptions{Poll: 5 * time.Millisecond})
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("want a *NotReadyError, got %v", err)
	}
	if w.ctxErr != nil {
		t.Errorf("Diagnose ran on an ended context: %v", w.ctxErr)
	}
	want := "Fake's own workloads are not all ready:\n  Deployment fake-system/applier: 0/1 replicas ready\n    pod applier-1 (Running): container manager waiting: CrashLoopBackOff"
	for _, msg := range []string{err.Error(), nr.Found()} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message does not name the engine's workload:\n%s", msg)
		}
	}
}

// TestWaitStoppedByTheUserDoesNotDiagnose: Ctrl-C asks to stop, not why;
// the diagnosis would hold the exit up to its own timeout.
func TestWaitStoppedByTheUserDoesNotDiagnose(t *testing.T) {
	w := &diagnosingWatcher{fakeWatcher: fakeWatcher{looks: [][]Object{{{Kind: "Kustomization", Name: "apps", Reason: "Progressing"}}}}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := Wait(ctx, w, "main@sha1:abc", nil, WaitOptions{Poll: 5 * time.Millisecond})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want the cancellation, got %v", err)
	}
	if w.diagnosed != 0 || strings.Contains(err.Error(), "own workloads") {
		t.Errorf("a cancelled wait diagnosed the engine (%d times):\n%s", w.diagnosed, err)
	}
}
