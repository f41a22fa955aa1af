package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := harness.EnsureAll(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		os.Exit(1)
	}
	// The charts published inside the controllers' modules (Sealed
	// Secrets, External Secrets): into the module cache now, so that a
	// test's timeouts do not include a download.
	for _, m := range []harness.ModuleChart{harness.SealedSecretsChart, harness.ExternalSecretsChart} {
		if _, err := harness.ModuleDir(m.Component, m.Module, m.Version); err != nil {
			fmt.Fprintln(os.Stderr, "testbin:", err)
			os.Exit(1)
		}
	}
	// The published charts the tests install (flux2, argo-cd): checked
	// where they are, downloaded with the Helm SDK where they are not.
	if err := harness.EnsureUpstreamCharts(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		os.Exit(1)
	}
	dir, _ := harness.TestbinDir()
	fmt.Fprintf(os.Stderr, "testbin: all binaries present in %s (%s)\n", dir, time.Since(start).Round(time.Second))
}
