package drill

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

// sampleReport is a drill that failed at infrastructure: a HelmRelease
// whose chart does not install.
func sampleReport() *Report {
	return &Report{FormatVersion: "1", Environment: "dev", Instance: "dev-drill-abc123", Target: "kind cluster dev-drill-abc123",
		Revision: "main@sha1:0123456789abcdef", Started: time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC), Expires: time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC),
		TookMS: 131_000, FailedLayer: LayerInfrastructure,
		Layers: []LayerResult{
			{Name: LayerCluster, State: StatePassed, StartMS: 0, TookMS: 21_400, Steps: []StepResult{{"cluster", "done", 21_000}, {"kubeconfig", "unchanged", 400}}, Objects: []Object{}},
			{Name: LayerKeys, State: StatePassed, StartMS: 21_400, TookMS: 300, Steps: []StepResult{{"restore-keys", "done", 200}}, Objects: []Object{}},
			{Name: LayerReconciler, State: StatePassed, StartMS: 21_700, TookMS: 18_200, Steps: []StepResult{{"reconciler", "done", 18_200}}, Objects: []Object{}},
			{Name: LayerSources, State: StatePassed, StartMS: 39_900, TookMS: 4_100, Steps: []StepResult{{"sync", "done", 300}},
				Objects: []Object{{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system", File: "clusters/dev/groundwork/sync.yaml", Ready: true, Message: "stored artifact for revision 'main@sha1:0123'"}}},
			{Name: LayerInfrastructure, State: StateFailed, StartMS: 44_000, TookMS: 60_000, Error: "not ready after 1m0s: HelmRelease infra/broken: install retries exhausted <&> (declared in clusters/dev/infrastructure/broken.yaml)",
				Objects: []Object{
					{Kind: "HelmRelease", Namespace: "infra", Name: "podinfo", File: "clusters/dev/infrastructure/podinfo.yaml", Ready: true, Message: "Helm install succeeded"},
					{Kind: "HelmRelease", Namespace: "infra", Name: "broken", File: "clusters/dev/infrastructure/broken.yaml", Message: "install retries exhausted <&>"},
				}},
			{Name: LayerApps, State: StateNotReached, Objects: []Object{}},
		},
		Removal: &Removal{Done: true, TookMS: 27_000},
	}
}

func TestHTMLReport(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/report.html.golden", b.Bytes())
	page := b.String()
	// Self-contained: nothing fetched, no script.
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	layers := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object":
				t.Errorf("the report has a <%s>", n.Data)
			}
			for _, a := range n.Attr {
				if (a.Key == "src" || a.Key == "href") || strings.Contains(a.Val, "url(") {
					t.Errorf("<%s %s=%q> may fetch something", n.Data, a.Key, a.Val)
				}
				if a.Key == "data-layer" {
					layers++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if layers != len(Layers) {
		t.Errorf("the timeline shows %d layers, want %d", layers, len(Layers))
	}
	if strings.Contains(page, "<&>") || !strings.Contains(page, "install retries exhausted &lt;&amp;&gt;") {
		t.Error("messages are not escaped")
	}
}

func TestTextReport(t *testing.T) {
	var b bytes.Buffer
	sampleReport().WriteText(&b)
	golden.Assert(t, "testdata/report.txt.golden", b.Bytes())
	r := sampleReport()
	r.Passed, r.FailedLayer, r.RTOMS = true, "", 104_000
	b.Reset()
	r.WriteText(&b)
	if !strings.Contains(b.String(), "Recovery time: 1m44s") || !strings.Contains(b.String(), "Drill of dev passed") {
		t.Errorf("passed:\n%s", &b)
	}
}

func TestJSONReport(t *testing.T) {
	b, err := json.MarshalIndent(sampleReport(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/report.json.golden", append(b, '\n'))
}
