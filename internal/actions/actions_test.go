package actions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// world is the state the test steps converge: a set of names that exist.
type world map[string]int // name -> times applied

type testStep struct {
	name    string
	w       world
	failing *int // Apply fails while *failing > 0, decrementing it
	onApply func()
}

func (s *testStep) Plan() Description {
	return Description{Name: s.name, Title: "make " + s.name, Fingerprint: Fingerprint(s.name)}
}

func (s *testStep) Check(context.Context) (Status, error) {
	return Status{Done: s.w[s.name] > 0}, nil
}

func (s *testStep) Apply(ctx context.Context) error {
	if s.onApply != nil {
		s.onApply()
	}
	if s.failing != nil && *s.failing > 0 {
		*s.failing--
		return errors.New("boom")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.w[s.name]++
	return nil
}

func steps(w world, names ...string) []Step {
	out := make([]Step, len(names))
	for i, n := range names {
		out[i] = &testStep{name: n, w: w}
	}
	return out
}

func TestRunResumesAfterFailure(t *testing.T) {
	dir := t.TempDir()
	w := world{}
	failures := 1
	ss := steps(w, "cluster", "reconciler", "seed")
	ss[1].(*testStep).failing = &failures

	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Command: "up", Journal: j}
	_, err = r.Run(context.Background(), ss)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "reconciler" {
		t.Fatalf("want StepError for reconciler, got %v", err)
	}
	if w["cluster"] != 1 || w["seed"] != 0 {
		t.Fatalf("world after failure: %v", w)
	}

	j2, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j2.Run.Outcome != "failed" || j2.Steps["reconciler"].State != StateFailed || j2.Steps["reconciler"].Error != "boom" {
		t.Fatalf("journal after failure: %+v", j2)
	}
	if got := Pending(j2, describe(ss)); len(got) != 2 || got[0].Name != "reconciler" {
		t.Fatalf("pending after failure: %v", got)
	}

	res, err := (&Runner{Command: "up", Journal: j2}).Run(context.Background(), ss)
	if err != nil {
		t.Fatal(err)
	}
	want := []StepState{StateSkipped, StateDone, StateDone}
	for i, s := range res.Steps {
		if s.State != want[i] {
			t.Errorf("step %s: %s, want %s", s.Name, s.State, want[i])
		}
	}
	if w["cluster"] != 1 || w["reconciler"] != 1 || w["seed"] != 1 {
		t.Fatalf("every step must be applied exactly once: %v", w)
	}
	if len(Pending(j2, describe(ss))) != 0 {
		t.Fatal("nothing should be pending after a successful run")
	}

	// A converged environment: a third run changes nothing.
	res, err = (&Runner{Command: "up", Journal: j2}).Run(context.Background(), ss)
	if err != nil || res.Changed() {
		t.Fatalf("no-op run: changed=%v err=%v", res.Changed(), err)
	}
}

func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	w := world{}
	ctx, cancel := context.WithCancel(context.Background())
	ss := steps(w, "a", "b", "c")
	ss[1].(*testStep).onApply = cancel
	j, _ := OpenJournal(dir)
	_, err := (&Runner{Command: "up", Journal: j}).Run(ctx, ss)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want cancellation, got %v", err)
	}
	j, _ = OpenJournal(dir)
	if j.Run.Outcome != "interrupted" || j.Steps["a"].State != StateDone || j.Steps["b"].State != StateFailed {
		t.Fatalf("journal: %+v", j)
	}
	if _, ok := j.Steps["c"]; ok {
		t.Fatal("step c must not have started")
	}
}

func TestPendingFollowsFingerprint(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	j.Steps["cluster"] = StepRecord{State: StateDone, Fingerprint: "old"}
	got := Pending(j, []Description{{Name: "cluster", Fingerprint: "new"}})
	if len(got) != 1 {
		t.Fatal("a step done with other inputs must be pending")
	}
	got = Pending(j, []Description{{Name: "cluster", Fingerprint: "old"}})
	if len(got) != 0 {
		t.Fatal("a step done with the same inputs must not be pending")
	}
}

func TestJournalFileModeAndCorruption(t *testing.T) {
	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	j.SetOutput("cluster", "kubeconfig", "/x")
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, JournalFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode: %v %v", fi.Mode(), err)
	}
	j2, _ := OpenJournal(dir)
	if v, _ := j2.Output("cluster", "kubeconfig"); v != "/x" {
		t.Fatalf("output not kept: %q", v)
	}
	os.WriteFile(filepath.Join(dir, JournalFile), []byte("{"), 0o600)
	if _, err := OpenJournal(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want a corrupt-journal error, got %v", err)
	}
}

// A run killed between writing the journal's temporary file and renaming
// it (the fault suite's journal:save point) leaves the file; the next save
// removes it, so a state directory holds only the journal.
func TestJournalSaveRemovesLeftoverTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	left := filepath.Join(dir, ".journal-1740203995")
	if err := os.WriteFile(left, []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	j, _ := OpenJournal(dir)
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != JournalFile {
		t.Errorf("state directory after a save: %v, want the journal alone", entries)
	}
}

func TestLockExcludesSecondRun(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(context.Background(), dir, "pid 1 up", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(context.Background(), dir, "pid 2 up", false)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "pid 1 up" {
		t.Fatalf("want LockedError naming the holder, got %v", err)
	}
	// Waiting gives up when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := AcquireLock(ctx, dir, "pid 3", true); !errors.As(err, &le) {
		t.Fatalf("want LockedError after waiting, got %v", err)
	}
	// A waiter gets the lock once it is released.
	got := make(chan error, 1)
	go func() {
		l2, err := AcquireLock(context.Background(), dir, "pid 4", true)
		if err == nil {
			err = l2.Release()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestLockAfterRemove: a run waiting for the lock while its holder removes
// the lock file (down) gets a lock on the file now at the path, so that a
// third run, which opens that path, is excluded (on the removed file, the
// two would both have held "the" lock).
func TestLockAfterRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	down, err := AcquireLock(context.Background(), dir, "down", false)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lock, 1)
	go func() {
		l, err := AcquireLock(context.Background(), dir, "up 1", true)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	time.Sleep(300 * time.Millisecond) // the waiter has opened the file
	if err := down.Remove(); err != nil {
		t.Fatal(err)
	}
	up1 := <-got
	if up1 == nil {
		t.FailNow()
	}
	defer up1.Release()
	var le *LockedError
	if _, err := AcquireLock(context.Background(), dir, "up 2", false); !errors.As(err, &le) || le.Holder != "up 1" {
		t.Fatalf("a third run while the waiter holds the lock: %v, want LockedError naming up 1", err)
	}
}

func describe(ss []Step) []Description {
	out := make([]Description, len(ss))
	for i, s := range ss {
		out[i] = s.Plan()
	}
	return out
}

// applyOnly is a step whose Check cannot tell and whose Apply finds out.
type applyOnly struct{ changed bool }

func (s *applyOnly) Plan() Description                     { return Description{Name: "seed", Fingerprint: "x"} }
func (s *applyOnly) Check(context.Context) (Status, error) { return Status{}, nil }
func (s *applyOnly) Apply(context.Context) error {
	if s.changed {
		return nil
	}
	return NoChange
}

func TestApplyNoChangeRecordsUnchanged(t *testing.T) {
	for _, changed := range []bool{true, false} {
		j, err := OpenJournal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, err := (&Runner{Command: "up", Journal: j}).Run(context.Background(), []Step{&applyOnly{changed: changed}})
		if err != nil {
			t.Fatalf("changed=%t: %v", changed, err)
		}
		want := StateSkipped
		if changed {
			want = StateDone
		}
		if got := res.Steps[0].State; got != want || j.Steps["seed"].State != want || res.Changed() != changed {
			t.Errorf("changed=%t: state %s, journal %s, Changed %t; want %s", changed, got, j.Steps["seed"].State, res.Changed(), want)
		}
	}
}
