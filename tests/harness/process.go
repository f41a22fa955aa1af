package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ProcessError reports a component process that failed to start or exited
// unexpectedly. It carries the command line and the tail of its log.
type ProcessError struct {
	Name    string
	Command string
	LogTail string
	Err     error
}

func (e *ProcessError) Error() string {
	return fmt.Sprintf("%s (%s): %v\n--- last log lines ---\n%s", e.Name, e.Command, e.Err, e.LogTail)
}

func (e *ProcessError) Unwrap() error { return e.Err }

// Process is a supervised host process whose stdout/stderr go to a log file.
// It runs in its own process group and is killed if the test binary dies
// (Pdeathsig).
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error
	mu      sync.Mutex
	stopped bool
}

// startProcess starts bin with args; its output is appended to
// <logDir>/<name>.log.
func startProcess(name, logDir, bin string, args, env []string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, &ProcessError{Name: name, Command: bin + " " + strings.Join(args, " "), Err: err}
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: lf, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err wraps err with the command line and the log tail of p.
func (p *Process) Err(err error) error {
	return &ProcessError{Name: p.Name, Command: strings.Join(p.cmd.Args, " "), LogTail: tailFile(p.LogPath, 40), Err: err}
}

// Stop sends SIGTERM to the process group, waits up to grace, then kills it.
func (p *Process) Stop(grace time.Duration) {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Reap any leftovers in the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// logDir creates a directory for component logs. It is removed when the test
// passes and kept (its path and the tail of every log printed) when it fails.
func newLogDir(t testing.TB, prefix string) string {
	t.Helper()
	base := os.Getenv("GROUNDWORK_TEST_LOGS")
	if base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp(base, "groundwork-"+prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			if base == "" {
				_ = os.RemoveAll(dir)
			}
			return
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".log") {
				continue
			}
			t.Logf("--- tail of %s ---\n%s", filepath.Join(dir, e.Name()), tailFile(filepath.Join(dir, e.Name()), 30))
		}
		t.Logf("component logs kept in %s", dir)
	})
	return dir
}

// FreePort returns a currently unused TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mustFreePort(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pollUntil calls fn every interval until it returns true or an error, or
// ctx ends. lastErr feeds the timeout message.
func pollUntil(ctx context.Context, interval time.Duration, fn func(ctx context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := fn(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

var errExited = errors.New("process exited")
