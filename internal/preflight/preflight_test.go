package preflight

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunReportsEveryProblemInOrder(t *testing.T) {
	check := func(what string, err error) Check {
		return Check{What: what, Run: func(context.Context) error { return err }}
	}
	want := errors.New("the environment variable AGE_KEY is not set")
	err := Run(context.Background(), "up", time.Second, []Check{
		check("Docker", errors.New("docker info: cannot connect")),
		check("Terraform", nil),
		check("key store", want),
	})
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("want *Error, got %v", err)
	}
	if len(pe.Problems) != 2 || pe.Problems[0].What != "Docker" || pe.Problems[1].What != "key store" {
		t.Fatalf("problems: %+v", pe.Problems)
	}
	if !errors.Is(err, want) {
		t.Error("errors.Is does not reach a problem's error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "2 prerequisites of up are not met:\n  - Docker: docker info: cannot connect\n  - key store: the environment variable") {
		t.Errorf("message:\n%s", msg)
	}
}

// TestRunSaysACauseOnce: a corrupt key file failed both the key store's
// check and the GitOps repository's (which reads the key store to render
// what it seeds), and up listed the same error twice (tests/e2e TestFaults,
// "key store holds no readable key").
func TestRunSaysACauseOnce(t *testing.T) {
	bad := errors.New("keys/dev.agekey: not an age identity")
	err := Run(context.Background(), "up", time.Second, []Check{
		{What: "key store", Run: func(context.Context) error { return bad }},
		{What: "GitOps repository", Run: func(context.Context) error { return bad }},
	})
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].What != "key store, GitOps repository" {
		t.Fatalf("problems: %v", err)
	}
	if msg := err.Error(); strings.Count(msg, "not an age identity") != 1 {
		t.Errorf("message:\n%s", msg)
	}
}

func TestRunChecksSideBySide(t *testing.T) {
	// Each check waits until both have started: run one after the other,
	// the first would wait out its deadline.
	var started sync.WaitGroup
	started.Add(2)
	both := func(ctx context.Context) error {
		started.Done()
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := Run(context.Background(), "up", 5*time.Second, []Check{{What: "a", Run: both}, {What: "b", Run: both}}); err != nil {
		t.Fatal(err)
	}
}

func TestRunNamesTheDeadline(t *testing.T) {
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	err := Run(context.Background(), "up", 10*time.Millisecond, []Check{{What: "AWS Secrets Manager", Run: hang}})
	if err == nil || !strings.Contains(err.Error(), "AWS Secrets Manager: no answer within 10ms") {
		t.Fatalf("got %v", err)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	err := Run(ctx, "up", time.Minute, []Check{{What: "GitOps repository", Run: hang}, {What: "key store", Run: func(context.Context) error { return nil }}})
	var se *StoppedError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Where() != "while checking the prerequisites (no answer yet from: GitOps repository)" {
		t.Fatalf("want the context's error naming what had not answered, got %v", err)
	}
}
