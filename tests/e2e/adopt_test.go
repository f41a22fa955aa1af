package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/keys"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// The adoption suite: an existing repository, laid out as a user's, is
// pushed to the harness's Git server before groundwork ever runs; the real
// source- and kustomize-controllers apply it. Every file the user had must
// come out byte for byte, and their workloads must run with their overlays.

// fluxExample is Flux's documented multi-environment layout (flux2-kustomize-helm-example):
// entry points in clusters/<env>/ holding the repository's own
// Kustomizations named apps and infrastructure, infrastructure/…, and
// apps/base with an overlay per environment.
var fluxExample = map[string]string{
	"clusters/harness/infrastructure.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infrastructure
  namespace: flux-system
spec:
  interval: 10m
  path: ./infrastructure/configs
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
	"clusters/harness/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  dependsOn:
    - name: infrastructure
  interval: 10m
  path: ./apps/harness
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
	"infrastructure/configs/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - settings.yaml
`,
	"infrastructure/configs/settings.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: infra-configs
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: infra-configs
data:
  region: harness
`,
	"apps/base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - podinfo.yaml
`,
	"apps/base/podinfo.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: podinfo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo
  namespace: podinfo
data:
  colour: base
`,
	"apps/harness/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
patches:
  - path: colour.yaml
`,
	"apps/harness/colour.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo
  namespace: podinfo
data:
  colour: harness
`,
	"README.md": "# fleet\n",
}

// with returns the example plus extra files (an empty value removes one).
func with(base map[string]string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// pushRepo pushes files to w's empty repository, as the user's history.
func pushRepo(t *testing.T, w *fluxWorld, files map[string]string) {
	t.Helper()
	wd := harness.NewGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	for p, c := range files {
		wd.WriteFile(t, p, c)
	}
	wd.CommitAndPush(t, "the user's fleet")
}

// assertUserFiles checks every file the user pushed is in the repository,
// byte for byte.
func assertUserFiles(t *testing.T, w *fluxWorld, files map[string]string) {
	t.Helper()
	wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(wd.Dir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("the user's %s is gone: %v", p, err)
			continue
		}
		if string(got) != want {
			t.Errorf("the user's %s changed:\n%s\nwant:\n%s", p, got, want)
		}
	}
}

// configMapData waits for a ConfigMap key to hold want.
func configMapData(ctx context.Context, t *testing.T, cp *harness.ControlPlane, ns, name, key, want string) {
	t.Helper()
	waitFor(ctx, t, "ConfigMap "+ns+"/"+name+" "+key+"="+want, func(ctx context.Context) error {
		cm, err := cp.Client().CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := cm.Data[key]; got != want {
			return &mismatch{what: key, got: got, want: want}
		}
		return nil
	})
}

type mismatch struct{ what, got, want string }

func (m *mismatch) Error() string { return m.what + " is " + m.got + ", want " + m.want }

// kustomizationNames lists the Flux Kustomizations in flux-system.
func kustomizationNames(ctx context.Context, t *testing.T, cp *harness.ControlPlane) string {
	t.Helper()
	var names []string
	for _, k := range listKustomizations(ctx, t, cp) {
		names = append(names, k.GetName())
	}
	return strings.Join(names, ",")
}

// listKustomizations lists the Flux Kustomizations in flux-system.
func listKustomizations(ctx context.Context, t *testing.T, cp *harness.ControlPlane) []unstructured.Unstructured {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	list, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// TestAdoptFluxExampleRepository: Flux's multi-environment example with
// repository.path at its clusters/harness. up lives beside the user's
// entry points (its own folder, one root kustomization.yaml listing theirs
// too), waits for the user's Kustomizations, and a no-op up and a rebuild
// after a wipe keep every user file and bring their workloads back.
func TestAdoptFluxExampleRepository(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	pushRepo(t, w, fluxExample)
	g := w.groundwork(t, cp.AdminKubeconfig())

	code, out, errOut := g.run(ctx, "plan", w.file, "-v")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"+ clusters/harness/groundwork/sync.yaml", "+ clusters/harness/kustomization.yaml", "0 to remove"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "conflict") {
		t.Errorf("plan sees a conflict in a layout groundwork can live beside:\n%s", out)
	}

	code, doc, errOut := g.up(ctx)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	assertUserFiles(t, w, fluxExample)
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	configMapData(ctx, t, cp, "infra-configs", "cluster-settings", "region", "harness")
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	for _, k := range []string{"apps", "infrastructure", "groundwork-apps", "groundwork-infrastructure", "groundwork-secrets", "flux-system"} {
		// up waited for the user's Kustomizations too: ready at its revision.
		if err := kustomizationApplied(ctx, dyn, k, strings.TrimPrefix(doc.Revision, "main@sha1:")); err != nil {
			t.Errorf("after up: %v", err)
		}
	}
	root := string(repoSnapshot(t, w.repoURL, w.gitSrv, nil))
	if !strings.Contains(root, "=== clusters/harness/kustomization.yaml\n") || !strings.Contains(root, "  - groundwork\n  - apps.yaml\n  - infrastructure.yaml\n") {
		t.Errorf("the root kustomization.yaml must list groundwork's folder and the user's entry points:\n%s", root)
	}

	head := headOf(t, w.gitSrv)
	code, doc, errOut = g.up(ctx)
	if code != 0 || doc.Changed || headOf(t, w.gitSrv) != head {
		t.Fatalf("a second up must change nothing: exit %d, changed %t, head %s -> %s\n%s", code, doc.Changed, head, headOf(t, w.gitSrv), errOut)
	}

	cp.Wipe(t)
	code, out, errOut = g.run(ctx, "rebuild", w.file)
	if code != 0 {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	if headOf(t, w.gitSrv) != head {
		t.Errorf("rebuild committed")
	}
	assertUserFiles(t, w, fluxExample)
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	configMapData(ctx, t, cp, "infra-configs", "cluster-settings", "region", "harness")
}

// TestAdoptUserKustomizationAndAppsFolder: the user's own root
// kustomization.yaml (comments, their order) gets one line, and their
// apps / infrastructure Kustomizations, moved under groundwork's apps/
// folder as README says, run beside groundwork's without a name clash.
func TestAdoptUserKustomizationAndAppsFolder(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	userRoot := `# Entry points of the harness cluster (ours).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
    - infrastructure.yaml   # first, the configs
`
	files := with(fluxExample, map[string]string{
		"clusters/harness/kustomization.yaml": userRoot,
		// apps moves under groundwork's apps/ folder, with the apps
		// folder's kustomization.yaml the user's from the start.
		"clusters/harness/apps.yaml":               "",
		"clusters/harness/apps/apps.yaml":          fluxExample["clusters/harness/apps.yaml"],
		"clusters/harness/apps/kustomization.yaml": "resources:\n  - apps.yaml\n",
		"clusters/harness/secrets/README.md":       "our notes\n",
	})
	pushRepo(t, w, files)
	g := w.groundwork(t, cp.AdminKubeconfig())
	code, doc, errOut := g.up(ctx)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	want := with(files, map[string]string{"clusters/harness/kustomization.yaml": ""})
	assertUserFiles(t, w, want)
	assertUserFiles(t, w, map[string]string{"clusters/harness/kustomization.yaml": userRoot + "    - groundwork\n"})
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	configMapData(ctx, t, cp, "infra-configs", "cluster-settings", "region", "harness")
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	for _, k := range []string{"apps", "infrastructure", "groundwork-apps", "groundwork-infrastructure"} {
		if err := kustomizationApplied(ctx, dyn, k, strings.TrimPrefix(doc.Revision, "main@sha1:")); err != nil {
			t.Errorf("after up: %v", err)
		}
	}
	head := headOf(t, w.gitSrv)
	if code, doc, errOut := g.up(ctx); code != 0 || doc.Changed || headOf(t, w.gitSrv) != head {
		t.Fatalf("a second up must change nothing: exit %d, changed %t\n%s", code, doc.Changed, errOut)
	}

	// A wipe and a rebuild bring it all back, without a commit.
	cp.Wipe(t)
	if code, out, errOut := g.run(ctx, "rebuild", w.file); code != 0 {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	if headOf(t, w.gitSrv) != head {
		t.Errorf("rebuild committed")
	}
	assertUserFiles(t, w, want)
	configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	configMapData(ctx, t, cp, "infra-configs", "cluster-settings", "region", "harness")

	// down --purge-repo takes the environment's files (groundwork's folder
	// and the folders it seeded) and leaves the user's entry points, their
	// kustomization.yaml as they wrote it.
	code, out, errOut := g.run(ctx, "down", w.file, "--purge-repo", "--yes", "-v")
	if code != 0 {
		t.Fatalf("down --purge-repo: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "left 1 file(s) of yours beside them: clusters/harness/infrastructure.yaml") {
		t.Errorf("down must say which files of the user's it left:\n%s", errOut)
	}
	left := with(files, map[string]string{"clusters/harness/apps/apps.yaml": "", "clusters/harness/apps/kustomization.yaml": "", "clusters/harness/secrets/README.md": ""})
	assertUserFiles(t, w, left)
	if names := snapshotFiles(t, w.repoURL, w.gitSrv); strings.Contains(names, "clusters/harness/groundwork/") || strings.Contains(names, "clusters/harness/apps/") {
		t.Errorf("the environment's files are still there:\n%s", names)
	}
}

// TestAdoptConflictsStopUpFirst: a file of the user's where groundwork
// wants one, and a repository made by flux bootstrap, stop up before any
// change: non-zero exit naming the file, the remote head where it was, no
// groundwork object in the cluster. --adopt-file then hands the file over.
func TestAdoptConflictsStopUpFirst(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := startFluxCluster(t)

	t.Run("a flux bootstrap repository", func(t *testing.T) {
		w := startFluxWorld(t)
		files := with(fluxExample, map[string]string{
			"clusters/harness/flux-system/gotk-components.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n",
			"clusters/harness/flux-system/gotk-sync.yaml":       strings.ReplaceAll(gotkSync, "REPO_URL", "ssh://git@example.invalid/fleet"),
			"clusters/harness/flux-system/kustomization.yaml":   bootstrapKustomization,
		})
		pushRepo(t, w, files)
		g := w.groundwork(t, cp.AdminKubeconfig())
		assertRefused(ctx, t, cp, w, g, "clusters/harness/flux-system/gotk-sync.yaml", "GitRepository flux-system/flux-system", "Kustomization flux-system/flux-system", "flux bootstrap")
		assertUserFiles(t, w, files)
	})
	t.Run("a file of the user's", func(t *testing.T) {
		w := startFluxWorld(t)
		files := with(fluxExample, map[string]string{"clusters/harness/.sops.yaml": "creation_rules:\n  - age: age1theirs\n"})
		pushRepo(t, w, files)
		g := w.groundwork(t, cp.AdminKubeconfig())

		code, out, errOut := g.run(ctx, "plan", w.file, "--output", "json")
		if code != 0 || !strings.Contains(out, `"action": "conflict"`) || !strings.Contains(out, `"path": "clusters/harness/.sops.yaml"`) {
			t.Errorf("plan --output json must list the conflict: exit %d\n%s%s", code, out, errOut)
		}

		assertRefused(ctx, t, cp, w, g, "clusters/harness/.sops.yaml", "--adopt-file", "# Managed by groundwork", "Nothing was committed or pushed, and nothing was changed in the cluster")

		code, _, errOut = g.up(ctx, "--adopt-file", "clusters/harness/.sops.yaml")
		if code != 0 {
			t.Fatalf("up --adopt-file: exit %d\n%s", code, errOut)
		}
		assertUserFiles(t, w, with(files, map[string]string{"clusters/harness/.sops.yaml": ""}))
		configMapData(ctx, t, cp, "podinfo", "podinfo", "colour", "harness")
	})
}

// assertRefused runs up and checks it stopped before any change: exit 1,
// the error saying each of wants, the remote head where it was, no
// groundwork object in the cluster.
func assertRefused(ctx context.Context, t *testing.T, cp *harness.ControlPlane, w *fluxWorld, g *groundwork, wants ...string) {
	t.Helper()
	head := headOf(t, w.gitSrv)
	code, _, errOut := g.up(ctx)
	if code != 1 {
		t.Fatalf("up: exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range wants {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error lacks %q:\n%s", want, errOut)
		}
	}
	if h := headOf(t, w.gitSrv); h != head {
		t.Errorf("the remote head moved from %s to %s", head, h)
	}
	assertNoGroundworkObjects(ctx, t, cp)
}

// assertNoGroundworkObjects: no Flux release, no Kustomization, no
// groundwork Secret.
func assertNoGroundworkObjects(ctx context.Context, t *testing.T, cp *harness.ControlPlane) {
	t.Helper()
	if _, err := cp.Client().CoreV1().Namespaces().Get(ctx, harness.FluxNamespace, metav1.GetOptions{}); err == nil {
		secrets, _ := cp.Client().CoreV1().Secrets(harness.FluxNamespace).List(ctx, metav1.ListOptions{})
		if secrets != nil && len(secrets.Items) > 0 {
			t.Errorf("Secrets in %s after a refused up: %d", harness.FluxNamespace, len(secrets.Items))
		}
	}
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	if list, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).List(ctx, metav1.ListOptions{}); err == nil && len(list.Items) > 0 {
		t.Errorf("Kustomizations exist after a refused up: %s", kustomizationNames(ctx, t, cp))
	}
}

// TestMigrateFromTheOlderLayout: an environment brought up by the groundwork
// before this change (its files at the environment's root, Kustomizations
// named apps, infrastructure and secrets) is rebuilt as it is, then up moves
// it to groundwork/ and the groundwork-* names without pruning and
// re-creating the user's workloads: their objects keep their UIDs.
func TestMigrateFromTheOlderLayout(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	id, _, err := keys.LoadOrCreate(keys.FileStore{Path: filepath.Join(w.dir, "keys", "harness.agekey")})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile("testdata/legacy-layout.txt")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("CHARTS_URL", w.charts.URL(), "REPO_URL", w.repoURL, "AGE_RECIPIENT", id.Recipient().String()).Replace(string(legacy))
	files := map[string]string{}
	for _, part := range strings.Split(text, "=== ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		files[name] = body
	}
	if _, ok := files["clusters/harness/flux-system/sync.yaml"]; !ok {
		t.Fatalf("testdata/legacy-layout.txt is not the older layout: %v", files)
	}
	shop := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\n  namespace: shop\ndata:\n  colour: teal\n"
	files["clusters/harness/apps/kustomization.yaml"] = "resources:\n  - shop.yaml\n"
	files["clusters/harness/apps/shop.yaml"] = shop
	pushRepo(t, w, files)
	g := w.groundwork(t, cp.AdminKubeconfig())

	// The cluster as the older groundwork left it: rebuild reads the
	// layout Git has and applies it as it is.
	code, out, errOut := g.run(ctx, "rebuild", w.file)
	if code != 0 {
		t.Fatalf("rebuild of the older layout: exit %d\n%s%s", code, out, errOut)
	}
	configMapData(ctx, t, cp, "shop", "shop", "colour", "teal")
	if got := kustomizationNames(ctx, t, cp); got != "apps,flux-system,infrastructure,secrets" {
		t.Fatalf("the older layout's Kustomizations: %s", got)
	}
	cm, err := cp.Client().CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cp.Client().CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut = g.run(ctx, "plan", w.file)
	if code != 0 || !strings.Contains(out, "- clusters/harness/flux-system/sync.yaml") || !strings.Contains(out, "+ clusters/harness/groundwork/sync.yaml") {
		t.Errorf("plan must show the move: exit %d\n%s%s", code, out, errOut)
	}

	code, doc, errOut := g.up(ctx, "-v")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	t.Logf("migration:\n%s", errOut)
	if got := kustomizationNames(ctx, t, cp); got != "flux-system,groundwork-apps,groundwork-infrastructure,groundwork-secrets" {
		t.Errorf("Kustomizations after the move: %s", got)
	}
	assertFluxApplied(ctx, t, cp, doc.Revision)
	cm2, err := cp.Client().CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the user's ConfigMap was pruned: %v", err)
	}
	ns2, err := cp.Client().CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the user's Namespace was pruned: %v", err)
	}
	if cm2.UID != cm.UID || ns2.UID != ns.UID {
		t.Errorf("the user's objects were deleted and re-created: ConfigMap %s -> %s, Namespace %s -> %s", cm.UID, cm2.UID, ns.UID, ns2.UID)
	}
	// groundwork-apps took them over: they are in its inventory.
	dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
	k, err := dyn.Resource(kustomizationGVR).Namespace(harness.FluxNamespace).Get(ctx, "groundwork-apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inv := strings.Join(entries(k.Object), ","); !strings.Contains(inv, "shop_shop__ConfigMap") {
		t.Errorf("groundwork-apps does not hold the user's ConfigMap: %s", inv)
	}
	assertUserFiles(t, w, map[string]string{"clusters/harness/apps/shop.yaml": shop, "clusters/harness/apps/kustomization.yaml": "resources:\n  - shop.yaml\n"})
	files2 := snapshotFiles(t, w.repoURL, w.gitSrv)
	if strings.Contains(files2, "clusters/harness/flux-system/") || strings.Contains(files2, "clusters/harness/infrastructure.yaml") {
		t.Errorf("the older layout's files are still there:\n%s", files2)
	}

	head := headOf(t, w.gitSrv)
	if code, doc, errOut := g.up(ctx); code != 0 || doc.Changed || headOf(t, w.gitSrv) != head {
		t.Fatalf("a second up must change nothing: exit %d, changed %t\n%s", code, doc.Changed, errOut)
	}
	cm3, err := cp.Client().CoreV1().ConfigMaps("shop").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil || cm3.UID != cm.UID {
		t.Errorf("after the second up: %v (UID %s, was %s)", err, cm3.GetUID(), cm.UID)
	}
}

// entries lists the ids of a Kustomization's inventory.
func entries(obj map[string]any) []string {
	status, _ := obj["status"].(map[string]any)
	inv, _ := status["inventory"].(map[string]any)
	list, _ := inv["entries"].([]any)
	var out []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}
