package helm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// TestFetchFromARepositoryThatStopsAnswering: Helm's getters take no
// context, and a chart repository that accepts the connection and never
// answers held up past --timeout and Ctrl-C (found by tests/e2e TestFaults,
// "chart repository hangs"). Fetch now returns when its context ends, with
// the context's error. The server is the fault (it holds every request),
// not a stand-in for a repository that works.
func TestFetchFromARepositoryThatStopsAnswering(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := c.ctx()
			defer cancel()
			inst := &helm.Installer{CacheDir: t.TempDir()}
			done := make(chan error, 1)
			go func() {
				_, err := inst.Fetch(ctx, helm.Release{Name: "web", Chart: spec.Chart{Repository: srv.URL, Name: "web"}, Version: "1.0.0"})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), srv.URL) {
					t.Fatalf("Fetch: %v, want %v naming the repository", err, c.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("Fetch still waits for the repository a minute after its context ended")
			}
		})
	}
}

// TestFetchSweepsWhatStoppedFetchesLeft: a fetch stopped by Ctrl-C returns
// at once and the process may exit before the download removes its
// temporary folder; the next fetch removes such folders once they are an
// hour old, and leaves younger ones (a run beside this one may be using
// them). The repository answers 404: the sweep comes before any request.
func TestFetchSweepsWhatStoppedFetchesLeft(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cache := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{"chart-1", "index-2", "chart-3", "repository"} {
		if err := os.MkdirAll(filepath.Join(cache, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if name != "chart-3" {
			if err := os.Chtimes(filepath.Join(cache, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	inst := &helm.Installer{CacheDir: cache}
	if _, err := inst.Fetch(context.Background(), helm.Release{Name: "web", Chart: spec.Chart{Repository: srv.URL, Name: "web"}, Version: "1.0.0"}); err == nil {
		t.Fatal("Fetch from a repository answering 404 succeeded")
	}
	for name, want := range map[string]bool{"chart-1": false, "index-2": false, "chart-3": true, "repository": true} {
		_, err := os.Stat(filepath.Join(cache, name))
		if got := err == nil; got != want {
			t.Errorf("%s there after the fetch: %v, want %v", name, got, want)
		}
	}
}
