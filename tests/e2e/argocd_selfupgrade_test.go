package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestArgoCDUpgradesItself: once up installed the argo-cd chart (Helm
// revision 1), Argo CD owns its installation through its Application in
// Git. A gitops.version bump to 9.1.1 (published after the first up)
// reaches the cluster through Git: Argo CD renders the new chart and
// applies it (its workloads carry the new chart, the kubelet restarts them
// on the new pod templates), up never upgrades the Helm release (exactly
// one revision, before and after), and further up runs change nothing.
func TestArgoCDUpgradesItself(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	w := startArgoWorld(t)
	ns, name := harness.ArgoCDNamespace, harness.ArgoCDChart.Name
	controller := "argo-cd-argocd-application-controller"

	if code, _, errOut := w.g.up(ctx); code != 0 {
		t.Fatalf("up at %s: exit %d\n%s", harness.ArgoCDChart.Version, code, errOut)
	}
	if rev, version := helmReleaseRevision(t, w.cp, ns, name); rev != 1 || version != harness.ArgoCDChart.Version {
		t.Fatalf("after the first up: revision %d chart %s, want 1 %s", rev, version, harness.ArgoCDChart.Version)
	}
	reconcilerUnchanged := func(g *groundwork, when string) {
		t.Helper()
		code, doc, errOut := g.up(ctx)
		if code != 0 {
			t.Fatalf("%s: up: exit %d\n%s", when, code, errOut)
		}
		for _, s := range doc.Steps {
			if s.Name == "reconciler" && s.State != "unchanged" {
				t.Errorf("%s: reconciler step %s, want unchanged (Argo CD manages itself)", when, s.State)
			}
		}
	}
	reconcilerUnchanged(w.g, "before the bump")

	w.charts.AddUpstream(t, harness.ArgoCDChartNext)
	before := w.kubelet.StartedAt(controller)
	bumped := *w.g
	bumped.vars = append(append([]string{}, w.g.vars...), "--var", "argocd_version="+harness.ArgoCDChartNext.Version)
	start := time.Now()
	code, doc, errOut := bumped.up(ctx)
	if code != 0 {
		t.Fatalf("up with %s: exit %d\n%s", harness.ArgoCDChartNext.Version, code, errOut)
	}
	for _, s := range doc.Steps {
		switch {
		case s.Name == "reconciler" && s.State != "unchanged":
			t.Errorf("the bump: reconciler step %s, want unchanged (Argo CD upgrades itself, not groundwork)", s.State)
		case s.Name == "seed" && s.State != "done":
			t.Errorf("the bump: seed step %s, want done (the new version committed)", s.State)
		}
	}
	// The Application of Argo CD is at the chart version Git declares.
	waitFor(ctx, t, "Application argocd at chart "+harness.ArgoCDChartNext.Version, func(ctx context.Context) error {
		return applicationReady(ctx, w.dyn, "argocd", harness.ArgoCDChartNext.Version)
	})
	want := "argo-cd-" + harness.ArgoCDChartNext.Version
	waitFor(ctx, t, "Argo CD's workloads on chart "+want, func(ctx context.Context) error {
		sts, err := w.cp.Client().AppsV1().StatefulSets(ns).Get(ctx, controller, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := sts.Spec.Template.Labels["helm.sh/chart"]; got != want {
			return fmt.Errorf("StatefulSet %s pod template: chart %q", controller, got)
		}
		deps, err := w.cp.Client().AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=argocd"})
		if err != nil {
			return err
		}
		for _, d := range deps.Items {
			if got := d.Labels["helm.sh/chart"]; got != want {
				return fmt.Errorf("Deployment %s: chart %q", d.Name, got)
			}
		}
		return nil
	})
	waitFor(ctx, t, "the application controller restarted on its new pod template", func(context.Context) error {
		if at := w.kubelet.StartedAt(controller); !at.After(before) {
			return fmt.Errorf("started at %s, before the bump", at)
		}
		return nil
	})
	t.Logf("FIGURE Argo CD upgraded itself from Git (%s -> %s) in %s", harness.ArgoCDChart.Version, harness.ArgoCDChartNext.Version, time.Since(start).Round(time.Millisecond))
	if rev, version := helmReleaseRevision(t, w.cp, ns, name); rev != 1 || version != harness.ArgoCDChart.Version {
		t.Errorf("after the bump: Helm revision %d chart %s, want 1 %s (Argo CD upgrades without Helm; up leaves the release alone)", rev, version, harness.ArgoCDChart.Version)
	}
	reconcilerUnchanged(&bumped, "after the bump")
	if rev, _ := helmReleaseRevision(t, w.cp, ns, name); rev != 1 {
		t.Errorf("after another up: Helm revision %d, want 1", rev)
	}
}
