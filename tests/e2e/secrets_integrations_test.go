package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/up"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// TestSecretsIntegrations installs the upstream Sealed Secrets and External
// Secrets charts (from their modules, at the versions groundwork pins) with
// up's secrets step on the harness. Their controllers cannot run here (no
// container runtime; kwok fakes their pods), so Sealed Secrets' key custody
// is proven at the level of the Secret the controller reads at startup, and
// External Secrets' at the level of its ClusterSecretStore, validated by the
// real CRD schema.
func TestSecretsIntegrations(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cp := harness.StartControlPlane(t)
	charts := harness.StartChartRepo(t)
	sealedChart := harness.SealedSecretsChart.Load(t)
	// The External Secrets release groundwork pins (its controller does
	// not build here: see tests/README.md): chart and CRDs only.
	esoChart := harness.ModuleChart{Module: "github.com/external-secrets/external-secrets", Version: "v1.3.2",
		Dir: "deploy/charts/external-secrets", CRDs: []string{"config/crds/bases/external-secrets.io_*.yaml"}}.Load(t)
	for _, c := range []struct {
		ch   *chart.Chart
		want string
	}{{sealedChart, spec.DefaultSealedSecretsChartVersion}, {esoChart, spec.DefaultExternalSecretsChartVersion}} {
		if c.ch.Metadata.Version != c.want {
			t.Fatalf("upstream chart %s is %s, groundwork pins %s", c.ch.Name(), c.ch.Metadata.Version, c.want)
		}
		charts.Add(t, c.ch)
	}
	dir := t.TempDir()

	// run runs up's first steps, through secrets, for an environment.
	run := func(t *testing.T, src string, stateDir string) *actions.Result {
		t.Helper()
		file := filepath.Join(dir, "env.hcl")
		os.WriteFile(file, []byte(src), 0o644)
		res := spec.Load(file, spec.Options{Vars: []string{"kubeconfig=" + cp.AdminKubeconfig(), "charts=" + charts.URL()}})
		if res.Diags.HasErrors() {
			t.Fatalf("spec: %v", res.Diags)
		}
		r, err := up.New(up.Options{Env: res.Env, StateDir: stateDir, CacheDir: filepath.Join(dir, "cache")})
		if err != nil {
			t.Fatal(err)
		}
		var steps []actions.Step
		for _, s := range r.Steps() {
			switch s.Plan().Name {
			case "cluster", "kubeconfig", "secrets":
				steps = append(steps, s)
			}
		}
		start := time.Now()
		res2, err := (&actions.Runner{Command: "up"}).Run(ctx, steps)
		if err != nil {
			t.Fatalf("up's secrets step: %v", err)
		}
		t.Logf("secrets step: %s", time.Since(start).Round(time.Millisecond))
		return res2
	}

	t.Run("sealed secrets: the stored key is the controller's active key, and survives a wipe", func(t *testing.T) {
		src := `
variable "kubeconfig" { type = string }
variable "charts" { type = string }
environment "sealed" {
  cluster "existing" { kubeconfig = var.kubeconfig }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    chart { repository = var.charts }
    key_store "file" { path = "keys/sealed.pem" }
  }
}`
		run(t, src, filepath.Join(dir, "state-sealed"))
		kp, err := sealing.Load(filepath.Join(dir, "keys", "sealed.pem"))
		if err != nil {
			t.Fatalf("the key store has no sealing key: %v", err)
		}
		check := func() {
			s, err := cp.Client().CoreV1().Secrets("kube-system").Get(ctx, up.SealingKeySecret, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("sealing key Secret: %v", err)
			}
			if s.Labels[sealing.KeyLabel] != "active" || string(s.Data["tls.key"]) != string(kp.KeyPEM) || string(s.Data["tls.crt"]) != string(kp.CertPEM) {
				t.Errorf("the Secret is not the stored key pair as the active key: labels %v", s.Labels)
			}
			d, err := cp.Client().AppsV1().Deployments("kube-system").Get(ctx, facts.SealedSecretsName, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("controller: %v", err)
			}
			if d.CreationTimestamp.Before(&s.CreationTimestamp) {
				t.Errorf("the controller was created before its key")
			}
		}
		check()
		cp.Wipe(t)
		run(t, src, filepath.Join(dir, "state-sealed"))
		check()
	})

	t.Run("external secrets: operator and ClusterSecretStore", func(t *testing.T) {
		// The operator's webhook cannot be served here (no real pods), so
		// it is turned off through the spec's values.
		src := `
variable "kubeconfig" { type = string }
variable "charts" { type = string }
environment "eso" {
  cluster "existing" { kubeconfig = var.kubeconfig }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
    provider = "external-secrets"
    chart { repository = var.charts }
    values = {
      webhook        = { create = false }
      certController = { create = false }
    }
    external_store "aws-secrets-manager" {
      region   = "eu-west-1"
      role_arn = "arn:aws:iam::123456789012:role/eso"
    }
  }
}`
		run(t, src, filepath.Join(dir, "state-eso"))
		dyn := dynamic.NewForConfigOrDie(cp.RESTConfig())
		css, err := dyn.Resource(schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "clustersecretstores"}).Get(ctx, facts.ClusterSecretStore, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("ClusterSecretStore: %v", err)
		}
		if got := nested(css.Object, "spec", "provider", "aws", "region"); got != "eu-west-1" {
			t.Errorf("region %q", got)
		}
		sa, err := cp.Client().CoreV1().ServiceAccounts("external-secrets").Get(ctx, "external-secrets", metav1.GetOptions{})
		if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::123456789012:role/eso" {
			t.Errorf("the operator's ServiceAccount does not assume the role: %v %v", sa.Annotations, err)
		}
		if res := run(t, src, filepath.Join(dir, "state-eso")); res.Changed() {
			t.Errorf("a second run changed something: %+v", res.Steps)
		}
	})
}

func nested(obj map[string]any, path ...string) string {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}
