package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockFile is the lock's file name inside the state directory.
const LockFile = "lock"

// LockedError says another run holds the environment's lock.
type LockedError struct {
	Path   string
	Holder string // what the holder wrote: pid, command, start time
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h == "" {
		h = "another process"
	}
	return fmt.Sprintf("another groundwork run holds the lock on this environment (%s; lock file %s). Wait for it to finish, or stop it; the lock is released when that process exits", h, e.Path)
}

// Lock is an exclusive, advisory lock on a state directory. The kernel
// releases it when the process dies, so a crash never leaves it stale.
type Lock struct{ f *os.File }

// AcquireLock takes the lock on dir. If another process holds it, it waits,
// polling, until ctx is done, then returns a *LockedError; wait=false fails
// at once.
func AcquireLock(ctx context.Context, dir, holder string, wait bool) (*Lock, error) {
	for {
		l, err := acquireLock(ctx, dir, holder, wait)
		if !errors.Is(err, errLockFileGone) {
			return l, err
		}
		// The holder removed the lock file as it gave the lock up (Remove):
		// the lock we got is on a file no one else will open again. Take it
		// afresh, on the file now at the path.
	}
}

// errLockFileGone: the lock was taken on a file since removed from its path.
var errLockFileGone = errors.New("lock file removed while waiting")

func acquireLock(ctx context.Context, dir, holder string, wait bool) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			return nil, lockedError(f, path)
		}
		select {
		case <-ctx.Done():
			return nil, lockedError(f, path)
		case <-time.After(200 * time.Millisecond):
		}
	}
	held, herr := f.Stat()
	now, nerr := os.Stat(path)
	if herr != nil || nerr != nil || !os.SameFile(held, now) {
		f.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errLockFileGone
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holder+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

func lockedError(f *os.File, path string) error {
	b, _ := os.ReadFile(path)
	f.Close()
	return &LockedError{Path: path, Holder: strings.TrimSpace(string(b))}
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing releases the flock
	l.f = nil
	return err
}

// Remove deletes the lock file and gives the lock up, then removes the
// state directory too when nothing else is left in it: for a run that
// leaves no state behind (down, or a command refused before it wrote any).
func (l *Lock) Remove() error {
	if l == nil || l.f == nil {
		return nil
	}
	path := l.f.Name()
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if rerr := l.Release(); err == nil {
		err = rerr
	}
	_ = os.Remove(filepath.Dir(path)) // fails, as it should, when not empty
	return err
}
