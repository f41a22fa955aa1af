package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// gotkComponents is what flux bootstrap would commit as
// gotk-components.yaml for the harness: the Flux controllers, CRDs and RBAC
// of the harness's flux2 chart as plain manifests (rendered client-side, no
// Helm release), so that the same host "kubelet" runs them.
func gotkComponents(t *testing.T) string {
	t.Helper()
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.IncludeCRDs, in.Replace = true, true, true, true // the CRDs come first in the manifest
	in.ReleaseName, in.Namespace = "flux-system", harness.FluxNamespace
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	rel, err := in.Run(harness.LoadUpstreamChart(t, harness.FluxChart), nil)
	if err != nil {
		t.Fatalf("render the flux2 chart as gotk-components.yaml: %v", err)
	}
	var b bytes.Buffer
	b.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n")
	// As flux install writes them: every namespaced object names its
	// namespace (a chart leaves that to Helm).
	objs, err := kube.Decode([]byte(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
		default:
			if o.GetNamespace() == "" {
				o.SetNamespace(harness.FluxNamespace)
			}
		}
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String()
}

// fluxApply applies objects server-side as the flux CLI does (its own field
// manager), the way flux bootstrap leaves them in the cluster.
func fluxApply(ctx context.Context, kc *kube.Client, objs []*unstructured.Unstructured) error {
	force := true
	for _, o := range objs {
		ri, err := kc.Resource(o.GroupVersionKind(), o.GetNamespace())
		if err != nil {
			return err
		}
		data, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "flux-client-side-apply", Force: &force}); err != nil {
			return fmt.Errorf("apply %s: %w", kube.Describe(o), err)
		}
	}
	return nil
}

// bootstrapKustomization is flux bootstrap's flux-system/kustomization.yaml.
const bootstrapKustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n"

// gotkSync is flux bootstrap's gotk-sync.yaml (REPO_URL replaced).
const gotkSync = `---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: REPO_URL
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/harness
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

// TestTakeOverFluxBootstrap: a repository and cluster made by flux
// bootstrap (Flux from gotk-components.yaml, synced by gotk-sync.yaml, the
// user's entry points beside them). up --take-over-bootstrap hands Flux to
// Helm and the folder to groundwork: the Flux Deployments are never deleted
// (same UIDs, the controllers keep running), nothing of the user's is
// pruned, Helm owns the release afterwards, and a second up is a no-op.
func TestTakeOverFluxBootstrap(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	fx := harness.StartKubelet(t, cp)
	w := startFluxWorld(t)
	components := gotkComponents(t)
	sync := strings.ReplaceAll(gotkSync, "REPO_URL", w.repoURL)
	files := with(fluxExample, map[string]string{
		"clusters/harness/flux-system/gotk-components.yaml": components,
		"clusters/harness/flux-system/gotk-sync.yaml":       sync,
		"clusters/harness/flux-system/kustomization.yaml":   bootstrapKustomization,
	})
	pushRepo(t, w, files)

	// What flux bootstrap does in the cluster: apply the components, the
	// Git credentials and the sync objects.
	kc, err := kube.Connect(cp.AdminKubeconfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode([]byte(components))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	waitFor(ctx, t, "gotk-components.yaml applied", func(ctx context.Context) error {
		err := fluxApply(ctx, kc, objs)
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			t.Logf("applying gotk-components.yaml: %v", err)
		}
		return err
	})
	if _, err := cp.Client().CoreV1().Secrets(harness.FluxNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: harness.FluxNamespace},
		StringData: map[string]string{"username": "git", "password": "t0ken"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	syncObjs, err := kube.Decode([]byte(sync))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "gotk-sync.yaml applied", func(ctx context.Context) error {
		return fluxApply(ctx, kc, syncObjs)
	})
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	if err := fx.WaitReady(rctx); err != nil {
		t.Fatalf("bootstrap's Flux is not ready: %v", err)
	}
	rcancel()
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	waitFor(ctx, t, "the bootstrap's Kustomizations ready", func(ctx context.Context) error {
		for _, k := range []string{"flux-system", "apps", "infrastructure"} {
			if err := kustomizationApplied(ctx, dyn, k, headOf(t, w.gitSrv)); err != nil {
				return err
			}
		}
		return nil
	})
	uids := map[string]types.UID{}
	for _, d := range []string{"source-controller", "kustomize-controller"} {
		dep, err := cp.Client().AppsV1().Deployments(harness.FluxNamespace).Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids["Deployment "+d] = dep.UID
	}
	cm, err := cp.Client().CoreV1().ConfigMaps("podinfo").Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uids["ConfigMap podinfo"] = cm.UID

	// Watch for deletions of the controllers while groundwork takes over.
	watch, err := cp.Client().AppsV1().Deployments(harness.FluxNamespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()

	g := w.groundwork(t, cp.AdminKubeconfig())
	code, doc, errOut := g.up(ctx, "--take-over-bootstrap", "-v")
	t.Logf("take over:\n%s", errOut)
	if code != 0 {
		t.Fatalf("up --take-over-bootstrap: exit %d", code)
	}
	for drained := false; !drained; {
		select {
		case ev := <-watch.ResultChan():
			if ev.Type == "DELETED" {
				t.Errorf("a Flux Deployment was deleted during the takeover: %v", ev.Object.(metav1.Object).GetName())
			}
		default:
			drained = true
		}
	}
	for _, d := range []string{"source-controller", "kustomize-controller"} {
		dep, err := cp.Client().AppsV1().Deployments(harness.FluxNamespace).Get(ctx, d, metav1.GetOptions{})
		if err != nil || dep.UID != uids["Deployment "+d] {
			t.Errorf("Deployment %s was replaced: %v", d, err)
		}
		if !fx.Running(d) {
			t.Errorf("%s is not running after the takeover", d)
		}
		if dep != nil && dep.Annotations["meta.helm.sh/release-name"] != "flux2" {
			t.Errorf("Deployment %s is not the flux2 release's: %v", d, dep.Annotations)
		}
	}
	cm2, err := cp.Client().CoreV1().ConfigMaps("podinfo").Get(ctx, "podinfo", metav1.GetOptions{})
	if err != nil || cm2.UID != uids["ConfigMap podinfo"] {
		t.Errorf("the user's ConfigMap was pruned or re-created: %v", err)
	}
	// Installed once by groundwork (adopting the bootstrap's objects),
	// then adopted by its HelmRelease from Git: revision 2, for good.
	if rev := releaseRevision(t, cp); rev != 2 {
		t.Errorf("Helm release flux2 at revision %d, want 2 (installed once, then taken over by its HelmRelease)", rev)
	}
	assertUserFiles(t, w, with(fluxExample, nil))
	names := snapshotFiles(t, w.repoURL, w.gitSrv)
	if strings.Contains(names, "clusters/harness/flux-system/") || !strings.Contains(names, "clusters/harness/groundwork/sync.yaml") {
		t.Errorf("the bootstrap's files must give way to groundwork's:\n%s", names)
	}
	for _, k := range []string{"flux-system", "apps", "infrastructure", "groundwork-apps"} {
		if err := kustomizationApplied(ctx, dyn, k, strings.TrimPrefix(doc.Revision, "main@sha1:")); err != nil {
			t.Errorf("after the takeover: %v", err)
		}
	}

	head := headOf(t, w.gitSrv)
	code, doc, errOut = g.up(ctx)
	if code != 0 || doc.Changed || headOf(t, w.gitSrv) != head || releaseRevision(t, cp) != 2 {
		t.Fatalf("a second up must change nothing: exit %d, changed %t, release revision %d\n%s", code, doc.Changed, releaseRevision(t, cp), errOut)
	}

	// A wipe and a rebuild bring the environment back from Git, now
	// groundwork's, without a commit.
	cp.Wipe(t)
	if code, out, errOut := g.run(ctx, "rebuild", w.file); code != 0 {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	if headOf(t, w.gitSrv) != head {
		t.Errorf("rebuild committed")
	}
	assertUserFiles(t, w, with(fluxExample, nil))
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	configMapData(ctx, t, cp, "infra-configs", "cluster-settings", "region", "harness")

	// Later, down --uninstall removes Flux and leaves what it applied,
	// the user's workloads included.
	if code, out, errOut := g.run(ctx, "down", w.file, "--uninstall", "--yes"); code != 0 {
		t.Fatalf("down --uninstall: exit %d\n%s%s", code, out, errOut)
	}
	for _, ref := range [][2]string{{"podinfo", "podinfo"}, {"infra-configs", "cluster-settings"}} {
		if _, err := cp.Client().CoreV1().ConfigMaps(ref[0]).Get(ctx, ref[1], metav1.GetOptions{}); err != nil {
			t.Errorf("down --uninstall took the user's ConfigMap %s/%s: %v", ref[0], ref[1], err)
		}
	}
	if _, err := cp.Client().AppsV1().Deployments(harness.FluxNamespace).Get(ctx, "kustomize-controller", metav1.GetOptions{}); err == nil {
		t.Errorf("down --uninstall left Flux's kustomize-controller")
	}
}
