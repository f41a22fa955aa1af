package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/drill"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// drillAddon is one addon from the harness's chart repository, its
// version a variable so that a test can break it.
const drillAddon = `
  addon "base" {
    repository = var.charts
    chart      = "base"
    version    = var.base_version
    namespace  = "base"
  }
`

// TestDrill: an environment with an app, a SOPS Secret and an addon, up on
// a live control plane; a drill into a second control plane (given with
// --kubeconfig: kind needs Docker, which this machine has not) passes,
// reports every layer, leaves nothing behind on the scratch cluster, and
// changes nothing on the live cluster, in the live state directory or in
// the repository. Its HTML report renders in headless Chromium. A drill
// whose key store holds another key fails at the keys layer naming the
// file; one with an addon that does not install fails at infrastructure
// naming the HelmRelease.
func TestDrill(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	live := startFluxCluster(t)
	scratch := startFluxCluster(t)
	w := startFluxWorld(t)
	w.charts.Add(t, harness.SimpleChart("base", "1.0.0"))
	env := strings.Replace(upEnvWith(drillAddon), `variable "kubeconfig" { type = string }`, "variable \"kubeconfig\" { type = string }\nvariable \"base_version\" {\n  type    = string\n  default = \"1.0.0\"\n}\nvariable \"sync_timeout\" {\n  type    = string\n  default = \"90s\"\n}", 1)
	// The broken addon's case waits out the sync timeout (up, the drill,
	// and Flux's health check the removal waits behind): it sets a short one.
	env = strings.Replace(env, `timeout  = "90s"`, `timeout  = var.sync_timeout`, 1)
	if !strings.Contains(env, "var.sync_timeout") {
		t.Fatal("the environment has no sync timeout to set")
	}
	if err := os.WriteFile(w.file, []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	g := w.groundwork(t, live.AdminKubeconfig())
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	wd.WriteFile(t, "clusters/harness/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n")
	wd.WriteFile(t, "clusters/harness/apps/shop.yaml", fmt.Sprintf(shopApp, "teal"))
	wd.CommitAndPush(t, "shop app")
	const apiKey = "drill-k3y-42"
	in := *g
	in.stdin = apiKey
	if code, out, errOut := in.run(ctx, "secret", "set", w.file, "shop/db", "user=shop", "apikey=-"); code != 0 {
		t.Fatalf("secret set: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up with the app: exit %d\n%s", code, errOut)
	}
	assertShop(ctx, t, live, apiKey)

	journal := filepath.Join(w.dir, ".groundwork", "harness", "journal.json")
	report := filepath.Join(t.TempDir(), "drill.html")
	drillArgs := func(extra ...string) []string {
		return append([]string{"drill", w.file, "--kubeconfig", scratch.AdminKubeconfig(), "--output", "json"}, extra...)
	}

	t.Run("passes, leaving nothing behind and the live environment unchanged", func(t *testing.T) {
		head := headOf(t, w.gitSrv)
		liveBefore := clusterObjects(ctx, t, live)
		scratchBefore := clusterObjects(ctx, t, scratch)
		journalBefore, _ := os.ReadFile(journal)
		start := time.Now()
		code, out, errOut := g.run(ctx, drillArgs("--report", report)...)
		if code != 0 {
			t.Fatalf("drill: exit %d\n%s%s", code, out, errOut)
		}
		var rep drill.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		t.Logf("FIGURE drill into a second control plane: RTO %d ms, whole drill %d ms, removal %d ms (wall %s)", rep.RTOMS, rep.TookMS, rep.Removal.TookMS, time.Since(start).Round(time.Millisecond))
		var layers []drill.Layer
		for _, l := range rep.Layers {
			layers = append(layers, l.Name)
			t.Logf("FIGURE   %-15s %6d ms  %s  %d objects", l.Name, l.TookMS, l.State, len(l.Objects))
			if l.State != drill.StatePassed {
				t.Errorf("layer %s: %s %s", l.Name, l.State, l.Error)
			}
		}
		if !rep.Passed || rep.RTOMS <= 0 || !slices.Equal(layers, drill.Layers) || rep.Removal == nil || !rep.Removal.Done {
			t.Errorf("report:\n%s", out)
		}
		for _, want := range []string{"HelmRelease flux-system/base", "Secret shop/db", "Kustomization flux-system/groundwork-apps", "GitRepository flux-system/flux-system"} {
			if !reportHas(rep, want) {
				t.Errorf("the report does not show %s ready:\n%s", want, out)
			}
		}
		if strings.Contains(out+errOut, apiKey) {
			t.Error("the drill's output holds the secret's value")
		}
		if after := clusterObjects(ctx, t, scratch); !slices.Equal(after, scratchBefore) {
			t.Errorf("the drill left on the scratch cluster:\n%s", strings.Join(minusStrings(after, scratchBefore), "\n"))
		}
		if rels := helmReleases(t, scratch); len(rels) != 0 {
			t.Errorf("Helm releases left on the scratch cluster: %v", rels)
		}
		if after := clusterObjects(ctx, t, live); !slices.Equal(after, liveBefore) {
			t.Errorf("the live cluster changed: +%v -%v", minusStrings(after, liveBefore), minusStrings(liveBefore, after))
		}
		if h := headOf(t, w.gitSrv); h != head {
			t.Errorf("the drill committed: the head moved from %s to %s", head, h)
		}
		if j, _ := os.ReadFile(journal); string(j) != string(journalBefore) {
			t.Error("the live environment's journal changed")
		}
		if left, _ := filepath.Glob(filepath.Join(w.dir, ".groundwork", "harness-drill-*")); len(left) != 0 {
			t.Errorf("the drill's state directory stays: %v", left)
		}
		assertShop(ctx, t, live, apiKey)
		openInChromium(ctx, t, report, scratch.LogDir())
	})

	t.Run("a key store with another key fails at keys naming the file", func(t *testing.T) {
		key := filepath.Join(w.dir, "keys", "harness.agekey")
		orig, err := os.ReadFile(key)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(key, orig, 0o600)
		other := harness.NewAgeKey(t)
		if err := os.WriteFile(key, []byte(other.Identity+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		scratchBefore := clusterObjects(ctx, t, scratch)
		code, out, errOut := g.run(ctx, drillArgs()...)
		var rep drill.Report
		_ = json.Unmarshal([]byte(out), &rep)
		if code != 1 || rep.FailedLayer != drill.LayerKeys || rep.Error == nil || rep.Error.Step != "keys" ||
			!strings.Contains(errOut, "layer keys failed: ") || !strings.Contains(errOut, "clusters/harness/secrets/shop/db.yaml") || !strings.Contains(errOut, other.Recipient) {
			t.Fatalf("drill with another key: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("%s", errOut)
		if after := clusterObjects(ctx, t, scratch); !slices.Equal(after, scratchBefore) {
			t.Errorf("the failed drill left on the scratch cluster:\n%s", strings.Join(minusStrings(after, scratchBefore), "\n"))
		}
	})

	t.Run("an addon that does not install fails at infrastructure naming the HelmRelease", func(t *testing.T) {
		// up commits the addon's HelmRelease at a version the chart
		// repository has not, then fails waiting for it: Git declares a
		// broken addon.
		broken := *g
		broken.vars = append(append([]string{}, g.vars...), "--var", "base_version=9.9.9", "--var", "sync_timeout=20s")
		if code, _, _ := broken.up(ctx); code == 0 {
			t.Fatal("up with an addon version that does not exist succeeded")
		}
		scratchBefore := clusterObjects(ctx, t, scratch)
		code, out, errOut := broken.run(ctx, drillArgs("--report", report)...)
		var rep drill.Report
		_ = json.Unmarshal([]byte(out), &rep)
		if code != 1 || rep.FailedLayer != drill.LayerInfrastructure || !strings.Contains(errOut, "layer infrastructure failed") || !strings.Contains(errOut, "HelmRelease flux-system/base") {
			t.Fatalf("drill with a broken addon: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("%s", errOut)
		if rep.Layers[5].State != drill.StateNotReached {
			t.Errorf("apps after a failed infrastructure: %s", rep.Layers[5].State)
		}
		if after := clusterObjects(ctx, t, scratch); !slices.Equal(after, scratchBefore) {
			t.Errorf("the failed drill left on the scratch cluster:\n%s", strings.Join(minusStrings(after, scratchBefore), "\n"))
		}
		if page, err := os.ReadFile(report); err != nil || !strings.Contains(string(page), "failed at infrastructure") {
			t.Errorf("the HTML report of the failed drill: %v", err)
		}
	})
}

func reportHas(rep drill.Report, obj string) bool {
	for _, l := range rep.Layers {
		for _, o := range l.Objects {
			if o.String() == obj && o.Ready {
				return true
			}
		}
	}
	return false
}

// clusterObjects lists, sorted, what a drill could leave or change:
// namespaces, CRDs, cluster roles and bindings, and in every namespace the
// Secrets, ConfigMaps, Deployments, ServiceAccounts and Flux objects (by
// kind, namespace, name and generation).
func clusterObjects(ctx context.Context, t *testing.T, cp *harness.ControlPlane) []string {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	var out []string
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "namespaces"},
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
		{Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"},
		{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"},
	} {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if gvr.Group == "" || gvr.Group == "apps" || strings.Contains(gvr.Group, "k8s.io") {
				t.Fatalf("list %s: %v", gvr.Resource, err)
			}
			continue // the kind is not served
		}
		for _, o := range list.Items {
			// The control plane's own (service account tokens, the root
			// CA in each namespace, leader election) come and go.
			if gvr.Resource == "configmaps" && o.GetName() == "kube-root-ca.crt" || strings.HasPrefix(o.GetName(), "system:") {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s/%s gen %d", gvr.Resource, o.GetNamespace(), o.GetName(), o.GetGeneration()))
		}
	}
	sort.Strings(out)
	return out
}

func helmReleases(t *testing.T, cp *harness.ControlPlane) []string {
	t.Helper()
	l := action.NewList(harness.HelmConfig(t, cp.AdminKubeconfig(), ""))
	l.AllNamespaces, l.All = true, true
	rels, err := l.Run()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rels {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	return out
}

func minusStrings(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// openInChromium opens the report in headless Chromium (Debian's chromium,
// which .ci/run installs), through its command line rather than a CDP
// library: --dump-dom shows what it rendered, --screenshot keeps a picture
// beside the test's logs, and --enable-logging=stderr prints every console
// message and failed load as a CONSOLE line. A page with a script error
// and a missing image is opened first, to prove those lines are caught.
func openInChromium(ctx context.Context, t *testing.T, page, logDir string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not on PATH: install it (Debian: apt-get install -y chromium); .ci/run does")
	}
	run := func(file string, args ...string) (string, string) {
		profile := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
			"--enable-logging=stderr", "--v=0", "--window-size=1280,1400"}, append(args, "file://"+file)...)...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	consoleLines := func(stderr string) []string {
		var out []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, "CONSOLE") {
				out = append(out, l)
			}
		}
		return out
	}
	bad := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><html><body><script>console.error("drill-test-error"); undefinedFunction();</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr := run(bad, "--dump-dom"); len(consoleLines(stderr)) == 0 {
		t.Fatalf("a page with a console error printed no CONSOLE line: the check below could not fail\n%s", stderr)
	}
	start := time.Now()
	dom, stderr := run(page, "--dump-dom")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("the report logs to the console:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range drill.Layers {
		if !strings.Contains(dom, `data-layer="`+string(l)+`"`) {
			t.Errorf("the rendered timeline has no layer %s", l)
		}
	}
	shot := filepath.Join(logDir, "drill-report.png")
	if _, stderr := run(page, "--screenshot="+shot); len(consoleLines(stderr)) > 0 {
		t.Errorf("the report logs to the console while being captured")
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("FIGURE the HTML report rendered and captured in %s; screenshot %s (kept with the logs when GROUNDWORK_TEST_LOGS is set or the test fails)", time.Since(start).Round(time.Millisecond), shot)
}
