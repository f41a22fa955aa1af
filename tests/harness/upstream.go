package harness

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"
)

// upstreamSums are the sha256 sums of the published charts the tests
// install, as the charts' provenance README gives them.
//
//go:embed upstream.sha256
var upstreamSums string

// UpstreamChart is a published chart the tests install: what a user's
// cluster gets by default.
type UpstreamChart struct {
	Name, Version string
	// Repository is the official chart repository it is published in.
	Repository string
}

// File is the chart archive's file name.
func (u UpstreamChart) File() string { return u.Name + "-" + u.Version + ".tgz" }

// The pinned upstream charts. FluxChart is what groundwork installs by
// default; FluxChartNext is the upgrade the self-upgrade test applies.
var (
	FluxChart       = UpstreamChart{"flux2", "2.17.0", "https://fluxcd-community.github.io/helm-charts"}
	FluxChartNext   = UpstreamChart{"flux2", "2.17.2", "https://fluxcd-community.github.io/helm-charts"}
	ArgoCDChart     = UpstreamChart{"argo-cd", "9.1.0", "https://argoproj.github.io/argo-helm"}
	ArgoCDChartNext = UpstreamChart{"argo-cd", "9.1.1", "https://argoproj.github.io/argo-helm"}
	UpstreamCharts  = []UpstreamChart{FluxChart, FluxChartNext, ArgoCDChart, ArgoCDChartNext}
)

// ArgoCDNamespace is the namespace the tests install the argo-cd chart into.
const ArgoCDNamespace = "argocd"

// MissingChartError says a pinned upstream chart is in none of the places
// the harness looks, and how to get it.
type MissingChartError struct {
	Chart  UpstreamChart
	Looked []string
}

func (e *MissingChartError) Error() string {
	return fmt.Sprintf("upstream chart %s is not in %s. Point GROUNDWORK_UPSTREAM_CHARTS at a folder holding the published charts "+
		"(this project's checkouts have them in ../shared/charts), or run `make testbin` on a machine with internet access: "+
		"it downloads them from %s into the testbin cache and checks their sha256 sums",
		e.Chart.File(), strings.Join(e.Looked, ", "), e.Chart.Repository)
}

// ChecksumError says a chart archive is not the published one.
type ChecksumError struct {
	Path, Got, Want string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s has sha256 %s, want %s (tests/harness/upstream.sha256): it is not the published chart; delete it and fetch it again", e.Path, e.Got, e.Want)
}

func upstreamSum(file string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(upstreamSums))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[1] == file {
			return f[0], true
		}
	}
	return "", false
}

// chartDirs are where upstream charts are looked for, in order:
// $GROUNDWORK_UPSTREAM_CHARTS (default ../shared/charts from the repository
// root), then the testbin cache's charts folder, where `make testbin`
// downloads them.
func chartDirs() []string {
	var dirs []string
	if d := os.Getenv("GROUNDWORK_UPSTREAM_CHARTS"); d != "" {
		dirs = append(dirs, d)
	} else {
		root := filepath.Join(ToolsDir(), "..", "..")
		dirs = append(dirs, filepath.Clean(filepath.Join(root, "..", "shared", "charts")))
	}
	if tb, err := TestbinDir(); err == nil {
		dirs = append(dirs, filepath.Join(tb, "charts"))
	}
	return dirs
}

// UpstreamChartPath finds the archive of a pinned upstream chart and checks
// its sha256 sum.
func UpstreamChartPath(u UpstreamChart) (string, error) {
	want, ok := upstreamSum(u.File())
	if !ok {
		return "", fmt.Errorf("no sha256 for %s in tests/harness/upstream.sha256", u.File())
	}
	dirs := chartDirs()
	for _, d := range dirs {
		p := filepath.Join(d, u.File())
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if got := sha256Hex(data); got != want {
			return "", &ChecksumError{Path: p, Got: got, Want: want}
		}
		return p, nil
	}
	return "", &MissingChartError{Chart: u, Looked: dirs}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// LoadUpstreamChart loads a pinned upstream chart, failing the test with
// how to get it when it is missing.
func LoadUpstreamChart(t testing.TB, u UpstreamChart) *chart.Chart {
	t.Helper()
	p, err := UpstreamChartPath(u)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(p)
	if err != nil {
		t.Fatalf("loading %s: %v", p, err)
	}
	return ch
}

// AddUpstream copies a pinned upstream chart's archive, byte for byte, into
// the repository and regenerates index.yaml.
func (r *ChartRepo) AddUpstream(t testing.TB, u UpstreamChart) {
	t.Helper()
	p, err := UpstreamChartPath(u)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.WriteFile(filepath.Join(r.dir, u.File()), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.reindex(); err != nil {
		t.Fatal(err)
	}
}

// EnsureUpstreamCharts downloads, with the Helm SDK, every pinned upstream
// chart found nowhere locally from its official repository into the testbin
// cache, and checks its sha256 sum. Charts already present are only checked.
func EnsureUpstreamCharts(ctx context.Context, progress io.Writer) error {
	tb, err := TestbinDir()
	if err != nil {
		return err
	}
	dest := filepath.Join(tb, "charts")
	settings := cli.New()
	for _, u := range UpstreamCharts {
		_, err := UpstreamChartPath(u)
		var missing *MissingChartError
		if !errors.As(err, &missing) {
			if err != nil {
				return err
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(progress, "groundwork testbin: downloading %s from %s\n", u.File(), u.Repository)
		getters := getter.All(settings)
		chartURL, err := repo.FindChartInRepoURL(u.Repository, u.Name, u.Version, "", "", "", getters)
		if err != nil {
			return fmt.Errorf("%w (download failed: %v)", missing, err)
		}
		g, err := getters.ByScheme("https")
		if err != nil {
			return err
		}
		buf, err := g.Get(chartURL)
		if err != nil {
			return fmt.Errorf("%w (download of %s failed: %v)", missing, chartURL, err)
		}
		want, _ := upstreamSum(u.File())
		if got := sha256Hex(buf.Bytes()); got != want {
			return &ChecksumError{Path: chartURL, Got: got, Want: want}
		}
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, u.File()), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
