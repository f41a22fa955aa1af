package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// A step interrupted while it talked to the cluster failed with the
// cluster's error, which named the cluster as the fault.
func clusterFault(ctx context.Context) error {
	return &actions.StepError{Step: "cluster", Err: &kube.UnreachableError{Server: "https://127.0.0.1:6443", Kubeconfig: "kubeconfig", Err: context.Cause(ctx)}}
}

func TestStoppedBySignal(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&SignalError{Signal: os.Interrupt})
	err := Stopped(ctx, clusterFault(ctx))
	msg := err.Error()
	if !strings.HasPrefix(msg, "interrupted in step cluster") || strings.Contains(msg, "does not answer") || strings.Contains(msg, "check the cluster") {
		t.Errorf("Ctrl-C is reported as %q", msg)
	}
	if code := ExitCode(err); code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
	// Wrapped by a command that already reported it, still 130.
	if code := ExitCode(&ExitError{Code: ExitFailure, Reported: true, Err: err}); code != ExitInterrupted {
		t.Errorf("reported: exit %d", code)
	}
	var se *actions.StepError
	if !errors.As(err, &se) {
		t.Error("the step error is no longer reachable")
	}
}

func TestStoppedByTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Nanosecond, &TimeoutError{After: time.Second})
	defer cancel()
	<-ctx.Done()
	err := Stopped(ctx, fmt.Errorf("up: %w", clusterFault(ctx)))
	if msg := err.Error(); !strings.HasPrefix(msg, "timed out after 1s in step cluster") || strings.Contains(msg, "does not answer") {
		t.Errorf("--timeout is reported as %q", msg)
	}
	if code := ExitCode(err); code != ExitFailure {
		t.Errorf("exit %d", code)
	}
}

// TestStoppedWaitSaysWhatWasPending: up stopped by --timeout in its wait
// step said only "timed out after 40s in step wait (--timeout)", not what
// had not been applied (tests/e2e TestFaults, a crash-looping
// kustomize-controller).
func TestStoppedWaitSaysWhatWasPending(t *testing.T) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Nanosecond, &TimeoutError{After: 40 * time.Second})
	defer cancel()
	<-ctx.Done()
	wait := &gitops.NotReadyError{Engine: "Flux", Revision: "main@sha1:abc", Waited: 38 * time.Second, Err: ctx.Err(),
		Objects: []gitops.Object{{Kind: "Kustomization", Name: "flux-system/apps", Reason: "Progressing"}},
		Hint:    "see: kubectl -n flux-system logs deploy/kustomize-controller"}
	msg := Stopped(ctx, &actions.StepError{Step: "wait", Err: wait}).Error()
	for _, want := range []string{"timed out after 40s in step wait (--timeout); by then Flux had not applied main@sha1:abc after 38s:", "Kustomization flux-system/apps", "kubectl -n flux-system logs"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "deadline exceeded") {
		t.Errorf("the message repeats the context's error:\n%s", msg)
	}
}

func TestNotStopped(t *testing.T) {
	ctx := context.Background()
	want := clusterFault(ctx)
	if err := Stopped(ctx, want); err != want {
		t.Errorf("a failure of a run not stopped became %v", err)
	}
	if Stopped(ctx, nil) != nil {
		t.Error("nil became an error")
	}
	// A failure of its own, not of the interruption, stays what it is.
	done, cancel := context.WithCancelCause(ctx)
	cancel(&SignalError{Signal: os.Interrupt})
	own := errors.New("no key at /keys/dev.agekey")
	if err := Stopped(done, own); err != own {
		t.Errorf("a failure of its own after Ctrl-C became %v", err)
	}
}
