//go:build faultpoints

package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether this build has kill points.
const Enabled = true

var (
	mu     sync.Mutex
	hits   = map[string]int{}
	target string
	nth    = 1
	logf   *os.File
	sig    = syscall.SIGKILL
)

func init() {
	target = os.Getenv("GROUNDWORK_FAULTPOINT")
	if name, n, ok := strings.Cut(target, "#"); ok {
		target = name
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			nth = v
		}
	}
	if os.Getenv("GROUNDWORK_FAULTPOINT_SIGNAL") == "STOP" {
		sig = syscall.SIGSTOP
	}
	if p := os.Getenv("GROUNDWORK_FAULTPOINT_LOG"); p != "" {
		logf, _ = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	}
}

// Point kills the process with SIGKILL when GROUNDWORK_FAULTPOINT names
// this hit of the point (or stops it, SIGSTOP, with
// GROUNDWORK_FAULTPOINT_SIGNAL=STOP, until the test sends SIGCONT).
func Point(name string) {
	mu.Lock()
	defer mu.Unlock()
	hits[name]++
	if logf != nil {
		fmt.Fprintln(logf, name)
	}
	if name == target && hits[name] == nth {
		_ = syscall.Kill(os.Getpid(), sig)
		if sig == syscall.SIGKILL {
			select {} // SIGKILL cannot be caught; never go on past the point
		}
	}
}
