package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // registry storage
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// ChartRepo is a local Helm HTTP chart repository (index.yaml + .tgz).
type ChartRepo struct {
	dir string
	url string
	mu  sync.Mutex
}

// StartChartRepo serves an empty Helm chart repository on loopback.
func StartChartRepo(t testing.TB) *ChartRepo {
	t.Helper()
	r := &ChartRepo{dir: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.url = "http://" + l.Addr().String()
	srv := &http.Server{Handler: http.FileServer(http.Dir(r.dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	if err := r.reindex(); err != nil {
		t.Fatal(err)
	}
	return r
}

// URL is the repository URL (for `helm repo add` or ChartPathOptions.RepoURL).
func (r *ChartRepo) URL() string { return r.url }

// Dir is the directory served.
func (r *ChartRepo) Dir() string { return r.dir }

// Add packages ch into the repository and regenerates index.yaml.
// It returns the chart archive path.
func (r *ChartRepo) Add(t testing.TB, ch *chart.Chart) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := chartutil.Save(ch, r.dir)
	if err != nil {
		t.Fatalf("packaging chart %s: %v", ch.Name(), err)
	}
	if err := r.reindex(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *ChartRepo) reindex() error {
	idx, err := repo.IndexDirectory(r.dir, r.url)
	if err != nil {
		return fmt.Errorf("indexing chart repository: %w", err)
	}
	idx.SortEntries()
	return idx.WriteFile(filepath.Join(r.dir, "index.yaml"), 0o644)
}

// OCIRegistry is an in-process OCI registry (distribution/distribution, as
// Helm's own tests use) on loopback, plain HTTP, in-memory storage.
type OCIRegistry struct {
	// Host is host:port, e.g. for "oci://"+Host+"/charts".
	Host string
}

// StartOCIRegistry starts the registry and stops it on cleanup.
func StartOCIRegistry(t testing.TB) *OCIRegistry {
	t.Helper()
	port := mustFreePort(t)
	cfg := &configuration.Configuration{}
	cfg.HTTP.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.HTTP.DrainTimeout = time.Second
	cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	cfg.Log.Level = "fatal" // 404s on HEAD before push are normal; keep test output clean
	cfg.Log.AccessLog.Disabled = true
	reg, err := registry.NewRegistry(context.Background(), cfg)
	if err != nil {
		t.Fatalf("creating OCI registry: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- reg.ListenAndServe() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
	})
	o := &OCIRegistry{Host: cfg.HTTP.Addr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = pollUntil(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, fmt.Errorf("registry exited: %w", err)
		default:
		}
		resp, err := http.Get("http://" + o.Host + "/v2/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("waiting for OCI registry: %v", err)
	}
	return o
}

// Client returns a Helm registry client for this plain-HTTP registry.
func (o *OCIRegistry) Client(t testing.TB) *helmregistry.Client {
	t.Helper()
	c, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Push packages ch and pushes it to oci://<Host>/<repoPath>/<name>:<version>,
// returning the reference it pushed (without the oci:// scheme).
func (o *OCIRegistry) Push(t testing.TB, ch *chart.Chart, repoPath string) string {
	t.Helper()
	p, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("%s/%s/%s:%s", o.Host, repoPath, ch.Name(), ch.Metadata.Version)
	if _, err := o.Client(t).Push(data, ref); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// HelmConfig returns a Helm action configuration for kubeconfig and
// namespace, using the Secret storage driver as the helm CLI does.
func HelmConfig(t testing.TB, kubeconfig, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", func(format string, v ...any) {
		t.Logf("helm: "+format, v...)
	}); err != nil {
		t.Fatalf("initialising helm: %v", err)
	}
	return cfg
}

// SimpleChart builds a minimal chart with one ConfigMap, for chart-source tests.
func SimpleChart(name, version string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, AppVersion: version, Type: "application"},
		Values:   map[string]any{"message": "hello"},
		Raw:      []*chart.File{{Name: "values.yaml", Data: []byte("message: hello\n")}},
		Templates: []*chart.File{{Name: "templates/configmap.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  message: {{ .Values.message | quote }}
`)}},
	}
}
