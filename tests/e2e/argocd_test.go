package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/groundwork-dev/groundwork/internal/actions"
	cmdup "github.com/groundwork-dev/groundwork/internal/cmd/up"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/up"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// argoEnv is an Argo CD environment on the harness: Argo CD (the upstream
// argo-cd chart, version a variable) from the harness's Helm repository, the repository on its
// HTTP Git server with token auth, the default secrets provider for Argo CD
// (Sealed Secrets, chart from the same Helm repository, key in a file
// store), and one addon whose chart version is a variable.
var argoEnv = `
variable "kubeconfig" { type = string }
variable "charts" { type = string }
variable "repo" { type = string }
variable "timeout" {
  type    = string
  default = "5m"
}
variable "argocd_version" {
  type    = string
  default = "` + harness.ArgoCDChart.Version + `"
}
variable "manual" {
  type    = bool
  default = false
}
variable "hello_version" {
  type    = string
  default = "0.1.0"
}

environment "argo" {
  cluster "existing" {
    kubeconfig = var.kubeconfig
  }
  gitops {
    engine  = "argocd"
    version = var.argocd_version
    chart { repository = var.charts }
    repository {
      url  = var.repo
      path = "clusters/argo"
      auth { token_env = "GIT_TOKEN" }
    }
    sync {
      interval = "20s"
      timeout  = var.timeout
      manual   = var.manual
    }
  }
  secrets {
    chart { repository = var.charts }
    key_store "file" { path = "keys/argo.sealed-secrets.pem" }
  }
  addon "hello" {
    repository = var.charts
    version    = var.hello_version
    values     = { message = "from the spec" }
  }
}
`

var applicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// helloChart is a chart whose ConfigMap says which chart version made it.
func helloChart(version string) *chart.Chart {
	ch := harness.SimpleChart("hello", version)
	ch.Templates[0].Data = []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  message: {{ .Values.message | quote }}
  version: {{ .Chart.Version | quote }}
`)
	return ch
}

// shopApp is an app of the e2e suites: its namespace, a ConfigMap whose
// colour is the format argument, and a Deployment.
const shopApp = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
  namespace: shop
data:
  colour: %s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0
`

// argoWorld is what the Argo CD tests share: a control plane with the
// harness's Argo CD "kubelet", the argo-cd, sealed-secrets and hello charts
// in a Helm repository, an HTTP Git server (token auth) with an empty
// repository "fleet", and argoEnv in a fresh folder.
type argoWorld struct {
	cp      *harness.ControlPlane
	kubelet *harness.Kubelet
	charts  *harness.ChartRepo
	gitSrv  *harness.GitHTTPServer
	repoURL string
	dir     string
	file    string
	g       *groundwork
	dyn     dynamic.Interface
	cms     corev1client.CoreV1Interface
}

func startArgoWorld(t *testing.T) *argoWorld {
	t.Helper()
	cp := harness.StartControlPlane(t)
	kubelet := harness.StartKubelet(t, cp)
	charts := harness.StartChartRepo(t)
	charts.AddUpstream(t, harness.ArgoCDChart)
	charts.Add(t, harness.SealedSecretsChart.Load(t))
	charts.Add(t, helloChart("0.1.0"))
	charts.Add(t, helloChart("0.2.0"))
	w := &argoWorld{cp: cp, kubelet: kubelet, charts: charts, gitSrv: harness.StartGitHTTPServer(t, harness.GitHTTPOptions{Username: "git", Password: "t0ken"}), dir: t.TempDir()}
	w.repoURL = w.gitSrv.CreateRepo(t, "fleet")
	w.file = filepath.Join(w.dir, "argo.hcl")
	if err := os.WriteFile(w.file, []byte(argoEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	w.g = &groundwork{t: t, file: w.file,
		vars:    []string{"--var", "kubeconfig=" + cp.AdminKubeconfig(), "--var", "charts=" + charts.URL(), "--var", "repo=" + w.repoURL},
		environ: []string{"GIT_TOKEN=t0ken", "HOME=" + w.dir}}
	w.dyn = dynamic.NewForConfigOrDie(cp.RESTConfig())
	w.cms = cp.Client().CoreV1()
	return w
}

// configMap checks a ConfigMap's key has the wanted value.
func (w *argoWorld) configMap(ns, name, key, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		cm, err := w.cms.ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data[key] != want {
			return fmt.Errorf("ConfigMap %s/%s: %s=%q, want %q", ns, name, key, cm.Data[key], want)
		}
		return nil
	}
}

// TestArgoCD proves up with engine = "argocd" on the harness, with the real
// Argo CD programs (application controller, repo-server, ApplicationSet
// controller, Redis): seed and converge (app of apps: the root, Argo CD
// managing itself, the addon as a Helm-source Application, each app folder a
// Kustomize-source Application), a no-op second up, a commit that changes an
// Application's target, self-heal of a manual change, a revert commit, and a
// wipe followed by rebuild. It prints time to converge and the RTO.
func TestArgoCD(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	w := startArgoWorld(t)
	cp, gitSrv, repoURL, dir, file, g, dyn, cms := w.cp, w.gitSrv, w.repoURL, w.dir, w.file, w.g, w.dyn, w.cms
	configMap := w.configMap

	t.Run("seed and converge", func(t *testing.T) {
		start := time.Now()
		code, doc, errOut := g.up(ctx)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		t.Logf("FIGURE up with Argo CD, from an empty cluster and repository until every Application is Synced and Healthy: %s (up's own measure %d ms, revision %s)",
			time.Since(start).Round(time.Millisecond), doc.TookMS, doc.Revision)
		for _, s := range doc.Steps {
			t.Logf("FIGURE   %-14s %6d ms  %s", s.Name, s.TookMS, s.State)
		}
		assertApplications(ctx, t, dyn, doc.Revision, "argo-root", "argocd", "hello")
		if err := configMap("hello", "hello-hello", "message", "from the spec")(ctx); err != nil {
			t.Error(err)
		}
		// Argo CD manages itself: its own Application has the chart's
		// Deployments among its resources, in sync.
		self, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, "argocd", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, _, _ := unstructured.NestedSlice(self.Object, "status", "resources")
		managed := map[string]string{}
		for _, r := range res {
			m, _ := r.(map[string]any)
			managed[fmt.Sprint(m["kind"], "/", m["name"])] = fmt.Sprint(m["status"])
		}
		for _, d := range []string{"StatefulSet/argo-cd-argocd-application-controller", "Deployment/argo-cd-argocd-repo-server",
			"Deployment/argo-cd-argocd-applicationset-controller", "Deployment/argo-cd-argocd-redis", "Deployment/argo-cd-argocd-server"} {
			if st := managed[d]; st != "Synced" {
				t.Errorf("%s in the argocd Application: %q, want Synced (resources: %v)", d, st, managed)
			}
		}
		sec, err := cms.Secrets(harness.ArgoCDNamespace).Get(ctx, "repo-argo", metav1.GetOptions{})
		if err != nil || sec.Labels["argocd.argoproj.io/secret-type"] != "repository" || string(sec.Data["password"]) != "t0ken" {
			t.Errorf("repository credentials Secret: %v %v", err, sec.GetLabels())
		}
	})

	t.Run("second up changes nothing", func(t *testing.T) {
		head := headOf(t, gitSrv)
		start := time.Now()
		code, doc, errOut := g.up(ctx)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		if doc.Changed {
			t.Errorf("a second up changed something: %+v", doc.Steps)
		}
		for _, s := range doc.Steps {
			if s.State != string(actions.StateSkipped) {
				t.Errorf("step %s: %s, want unchanged", s.Name, s.State)
			}
		}
		if h := headOf(t, gitSrv); h != head {
			t.Errorf("the repository moved from %s to %s", head, h)
		}
		t.Logf("FIGURE no-op up with Argo CD: %s", time.Since(start).Round(time.Millisecond))

		code, sdoc, errOut := g.status(ctx)
		if code != 0 || sdoc["healthy"] != true {
			t.Fatalf("status: exit %d, %v\n%s", code, sdoc, errOut)
		}
		sync, _ := sdoc["sync"].(map[string]any)
		if sync["engine"] != "argocd" || !strings.HasSuffix(head, fmt.Sprint(sync["revision"])) {
			t.Errorf("status sync section %v, want engine argocd at %s", sync, head)
		}
		// The Applications, as Argo CD's: kind, sync and health status
		// (not Flux's Ready condition).
		objs, _ := sync["objects"].([]any)
		if len(objs) < 3 {
			t.Errorf("status lists %d objects, want every Application: %v", len(objs), objs)
		}
		for _, o := range objs {
			m, _ := o.(map[string]any)
			if m["kind"] != "Application" || m["sync"] != "Synced" || m["health"] != "Healthy" || m["ready"] != true {
				t.Errorf("status object %v, want an Application Synced and Healthy", m)
			}
		}
		_, out, _ := g.run(ctx, "status", g.file)
		if !strings.Contains(out, "Argo CD objects ready at "+head) {
			t.Errorf("status text:\n%s", out)
		}
		t.Logf("status:\n%s", out)
	})

	// A user's working copy, cloned afresh before each commit (up commits
	// in between).
	clone := func(t *testing.T) *harness.GitWorkdir { return harness.CloneGitWorkdir(t, repoURL, gitSrv.BasicAuth()) }
	t.Run("an app folder becomes an Application", func(t *testing.T) {
		wd := clone(t)
		wd.WriteFile(t, "clusters/argo/apps/shop/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n")
		wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "teal"))
		rev := wd.CommitAndPush(t, "shop app")
		start := time.Now()
		waitFor(ctx, t, "the shop Application", func(ctx context.Context) error {
			return applicationReady(ctx, dyn, "shop", rev)
		})
		waitFor(ctx, t, "the shop ConfigMap", configMap("shop", "shop", "colour", "teal"))
		t.Logf("FIGURE a new app folder until its Application (Kustomize) is Synced and Healthy, without up: %s", time.Since(start).Round(time.Millisecond))
		u, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st, _, _ := unstructured.NestedString(u.Object, "status", "sourceType"); st != "Kustomize" {
			t.Errorf("shop is a %q source, want Kustomize", st)
		}
	})

	t.Run("a commit changes an Application's target", func(t *testing.T) {
		// The addon's chart version, through the spec: up commits and
		// Argo CD installs the new version.
		start := time.Now()
		bump := *g
		bump.vars = append(append([]string{}, g.vars...), "--var", "hello_version=0.2.0")
		code, doc, errOut := bump.up(ctx)
		if code != 0 {
			t.Fatalf("up with hello 0.2.0: exit %d\n%s", code, errOut)
		}
		if err := configMap("hello", "hello-hello", "version", "0.2.0")(ctx); err != nil {
			t.Error(err)
		}
		t.Logf("FIGURE up after the addon's version changed, until Argo CD applied it: %s (revision %s)", time.Since(start).Round(time.Millisecond), doc.Revision)
		g.vars = bump.vars

		// A user's commit to an app folder, applied by Argo CD alone.
		wd := clone(t)
		wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "green"))
		rev := wd.CommitAndPush(t, "shop: green")
		start = time.Now()
		waitFor(ctx, t, "the shop ConfigMap to turn green", configMap("shop", "shop", "colour", "green"))
		waitFor(ctx, t, "the shop Application", func(ctx context.Context) error { return applicationReady(ctx, dyn, "shop", rev) })
		t.Logf("FIGURE a user commit until Argo CD applied it (no up, no webhook): %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("self-heal reverts a manual change", func(t *testing.T) {
		start := time.Now()
		patch := `{"data":{"colour":"red"}}`
		if _, err := cms.ConfigMaps("shop").Patch(ctx, "shop", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
		if err := cms.ConfigMaps("hello").Delete(ctx, "hello-hello", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(ctx, t, "self-heal of the edited ConfigMap", configMap("shop", "shop", "colour", "green"))
		waitFor(ctx, t, "self-heal of the deleted ConfigMap", configMap("hello", "hello-hello", "version", "0.2.0"))
		t.Logf("FIGURE drift (an edit and a deletion) corrected by self-heal in %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("a revert commit rolls back", func(t *testing.T) {
		wd := clone(t)
		wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "teal"))
		rev := wd.CommitAndPush(t, "Revert \"shop: green\"")
		start := time.Now()
		waitFor(ctx, t, "the shop ConfigMap back to teal", configMap("shop", "shop", "colour", "teal"))
		waitFor(ctx, t, "the shop Application", func(ctx context.Context) error { return applicationReady(ctx, dyn, "shop", rev) })
		t.Logf("FIGURE a revert commit until Argo CD rolled back: %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("deploy --wait waits for the Applications", func(t *testing.T) {
		// Before the engine interface, deploy --wait polled Flux's
		// GitRepository, which Argo CD does not have, until its timeout.
		start := time.Now()
		code, out, errOut := g.run(ctx, "deploy", g.file, "--image", "registry.example/web=registry.example/web:1.1", "--wait", "--output", "json")
		if code != 0 {
			t.Fatalf("deploy --wait: exit %d\n%s%s", code, out, errOut)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["applied"] != true {
			t.Fatalf("deploy --wait output: %v %s", err, out)
		}
		d, err := cp.Client().AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Spec.Containers[0].Image != "registry.example/web:1.1" {
			t.Fatalf("shop/web after deploy --wait: %v %v", err, d)
		}
		assertApplications(ctx, t, dyn, fmt.Sprint(doc["revision"]), "shop")
		t.Logf("FIGURE deploy --wait with Argo CD, until the Application applied the new image: %s", time.Since(start).Round(time.Millisecond))
	})

	t.Run("an Application that fails is named, with why", func(t *testing.T) {
		wd := clone(t)
		wd.WriteFile(t, "clusters/argo/apps/broken/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  namespace: nowhere\ndata:\n  a: b\n")
		wd.CommitAndPush(t, "broken app")
		short := *g
		short.vars = append(append([]string{}, g.vars...), "--var", "timeout=45s")
		code, _, errOut := short.up(ctx)
		if code == 0 {
			t.Fatalf("up succeeded with an Application that cannot sync:\n%s", errOut)
		}
		t.Logf("up's error:\n%s", errOut)
		for _, want := range []string{"Application broken: OutOfSync", `namespaces "nowhere" not found`, "ConfigMap nowhere/broken"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("up's error does not say %q", want)
			}
		}
		for _, ok := range []string{"Application shop:", "Application hello:", "Application argo-root:"} {
			if strings.Contains(errOut, ok) {
				t.Errorf("up's error lists a healthy Application (%s)", ok)
			}
		}
		code, out, _ := g.run(ctx, "status", g.file)
		if code != 1 || !strings.Contains(out, "Application broken: OutOfSync") || !strings.Contains(out, `namespaces "nowhere" not found`) {
			t.Errorf("status with a failing Application: exit %d\n%s", code, out)
		}
		wd = clone(t)
		wd.Remove(t, "clusters/argo/apps/broken/cm.yaml")
		wd.CommitAndPush(t, "remove the broken app")
		if code, _, errOut := g.up(ctx); code != 0 {
			t.Fatalf("up after removing the broken app: exit %d\n%s", code, errOut)
		}
	})

	t.Run("wipe and rebuild", func(t *testing.T) {
		kp, err := sealing.Load(filepath.Join(dir, "keys", "argo.sealed-secrets.pem"))
		if err != nil {
			t.Fatalf("the key store has no sealing key: %v", err)
		}
		head := headOf(t, gitSrv)
		cp.Wipe(t)
		start := time.Now()
		code, out, errOut := g.run(ctx, "rebuild", file, "--output", "json")
		if code != 0 {
			t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
		}
		var doc cmdup.Document
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		t.Logf("FIGURE rebuild with Argo CD after a wipe: RTO %d ms (wall %s)", doc.RTOMS, time.Since(start).Round(time.Millisecond))
		for _, s := range doc.Steps {
			t.Logf("FIGURE   %-24s %6d ms  %s", s.Name, s.TookMS, s.State)
		}
		assertApplications(ctx, t, dyn, head, "argo-root", "argocd", "hello", "shop")
		for _, c := range []func(context.Context) error{
			configMap("shop", "shop", "colour", "teal"),
			configMap("hello", "hello-hello", "version", "0.2.0"),
		} {
			if err := c(ctx); err != nil {
				t.Error(err)
			}
		}
		if _, err := cp.Client().AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Errorf("shop/web: %v", err)
		}
		// Sealed Secrets key custody: the controller finds the stored key
		// pair as its active key.
		s, err := cms.Secrets("kube-system").Get(ctx, up.SealingKeySecret, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("sealing key Secret: %v", err)
		}
		if s.Labels[sealing.KeyLabel] != "active" || string(s.Data["tls.key"]) != string(kp.KeyPEM) {
			t.Errorf("the sealing key Secret is not the stored key pair: labels %v", s.Labels)
		}
		if h := headOf(t, gitSrv); h != head {
			t.Errorf("rebuild committed: the head moved from %s to %s", head, h)
		}
	})

	t.Run("down --uninstall detaches Argo CD", func(t *testing.T) {
		// Before the engine interface, down --uninstall deleted only
		// Flux's kinds: the Applications stayed (their resources
		// finalizer ready to delete what they applied) and so did the
		// repository Secret with the Git token.
		code, out, errOut := g.run(ctx, "down", file, "--uninstall", "--yes")
		if code != 0 {
			t.Fatalf("down --uninstall: exit %d\n%s%s", code, out, errOut)
		}
		for _, gvr := range []schema.GroupVersionResource{applicationGVR, applicationGVR.GroupVersion().WithResource("applicationsets")} {
			list, err := dyn.Resource(gvr).Namespace(harness.ArgoCDNamespace).List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) != 0 {
				t.Errorf("%s left after down --uninstall: %v %v", gvr.Resource, err, list)
			}
		}
		if _, err := cms.Secrets(harness.ArgoCDNamespace).Get(ctx, "repo-argo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the repository Secret (the Git token) is still there: %v", err)
		}
		// What Argo CD applied stays.
		for _, c := range []func(context.Context) error{
			configMap("shop", "shop", "colour", "teal"),
			configMap("hello", "hello-hello", "version", "0.2.0"),
		} {
			if err := c(ctx); err != nil {
				t.Errorf("down --uninstall deleted what Argo CD applied: %v", err)
			}
		}
		if _, err := cp.Client().AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Errorf("shop/web: %v", err)
		}
		t.Logf("down --uninstall:\n%s%s", out, errOut)
	})
}

// assertApplications checks that each named Application is Synced and
// Healthy; those following the repository at revision.
func assertApplications(ctx context.Context, t *testing.T, dyn dynamic.Interface, revision string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := applicationReady(ctx, dyn, n, ""); err != nil {
			t.Error(err)
		}
	}
	if err := applicationReady(ctx, dyn, names[0], revision[strings.LastIndex(revision, ":")+1:]); err != nil {
		t.Error(err)
	}
}

// applicationReady checks an Application is Synced and Healthy, at rev
// when rev is set.
func applicationReady(ctx context.Context, dyn dynamic.Interface, name, rev string) error {
	u, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
	health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
	got, _, _ := unstructured.NestedString(u.Object, "status", "sync", "revision")
	if sync != "Synced" || health != "Healthy" || (rev != "" && got != rev) {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		msg, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "message")
		return fmt.Errorf("Application %s: sync %q, health %q, revision %q (want %q); conditions %v; last operation %q", name, sync, health, got, rev, conds, msg)
	}
	return nil
}

// TestArgoCDManualSync proves the manual sync policy on a cluster of its
// own: with gitops.sync.manual, up syncs what it bootstraps by hand, Argo CD
// holds a later commit (the Application OutOfSync at it, the cluster
// unchanged), and the next up syncs it.
func TestArgoCDManualSync(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	w := startArgoWorld(t)
	gitSrv, repoURL, g, dyn, configMap := w.gitSrv, w.repoURL, w.g, w.dyn, w.configMap
	clone := func(t *testing.T) *harness.GitWorkdir { return harness.CloneGitWorkdir(t, repoURL, gitSrv.BasicAuth()) }
	g.vars = append(g.vars, "--var", "manual=true")
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up with manual sync: exit %d\n%s", code, errOut)
	}
	wd := clone(t)
	wd.WriteFile(t, "clusters/argo/apps/shop/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n")
	wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "teal"))
	wd.CommitAndPush(t, "shop app")
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up syncing the new app by hand: exit %d\n%s", code, errOut)
	}
	u, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if on, found, _ := unstructured.NestedBool(u.Object, "spec", "syncPolicy", "automated", "enabled"); !found || on {
		t.Fatalf("shop is still automated: %v", u.Object["spec"])
	}
	wd = clone(t)
	wd.WriteFile(t, "clusters/argo/apps/shop/shop.yaml", fmt.Sprintf(shopApp, "amber"))
	rev := wd.CommitAndPush(t, "shop: amber")
	waitFor(ctx, t, "Argo CD to see the commit (shop OutOfSync at it)", func(ctx context.Context) error {
		u, err := dyn.Resource(applicationGVR).Namespace(harness.ArgoCDNamespace).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		got, _, _ := unstructured.NestedString(u.Object, "status", "sync", "revision")
		if st != "OutOfSync" || got != rev {
			return fmt.Errorf("shop: %s at %s", st, got)
		}
		return nil
	})
	if err := configMap("shop", "shop", "colour", "teal")(ctx); err != nil {
		t.Fatalf("with manual sync Argo CD applied the commit by itself: %v", err)
	}
	start := time.Now()
	if code, _, errOut := g.up(ctx); code != 0 {
		t.Fatalf("up (syncing by hand): exit %d\n%s", code, errOut)
	}
	if err := configMap("shop", "shop", "colour", "amber")(ctx); err != nil {
		t.Error(err)
	}
	t.Logf("FIGURE up syncing a held commit by hand (manual sync policy): %s", time.Since(start).Round(time.Millisecond))
}
