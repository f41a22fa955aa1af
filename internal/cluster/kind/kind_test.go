package kind

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

func TestConfigFromSpec(t *testing.T) {
	res := spec.Load("../../../environments/local.hcl", spec.Options{Home: "/home/user"})
	if res.Env == nil {
		t.Fatal(res.Diags)
	}
	cfg := Config("local", res.Env.Cluster.Kind)
	if cfg.Name != "local" || len(cfg.Nodes) != 2 {
		t.Fatalf("config: %+v", cfg)
	}
	cp, w := cfg.Nodes[0], cfg.Nodes[1]
	if cp.Role != "control-plane" || w.Role != "worker" || cp.Image != "kindest/node:v1.34.0" || w.Image != cp.Image {
		t.Fatalf("nodes: %+v", cfg.Nodes)
	}
	if len(cp.ExtraPortMappings) != 2 || cp.ExtraPortMappings[0].ContainerPort != 80 || cp.ExtraPortMappings[0].HostPort != 8080 || cp.ExtraPortMappings[0].Protocol != "TCP" {
		t.Fatalf("port mappings: %+v", cp.ExtraPortMappings)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil || !strings.Contains(string(b), "apiVersion: kind.x-k8s.io/v1alpha4") {
		t.Fatalf("config YAML: %v\n%s", err, b)
	}
	if Image(&spec.KindCluster{}) != "" || Image(&spec.KindCluster{NodeImage: "x"}) != "x" {
		t.Fatal("image selection")
	}
}

// TestRuntimeOnThisMachine checks the detection against the machine's real
// runtime: it must agree with what "docker info" says.
func TestRuntimeOnThisMachine(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker client on this machine; TestRuntimeScripted covers the logic")
	}
	engineUp := exec.Command("docker", "info").Run() == nil
	_, err := Runtime(context.Background())
	var nr *NoRuntimeError
	switch {
	case engineUp && err != nil:
		t.Fatalf("docker answers, but Runtime says %v", err)
	case !engineUp && (!errors.As(err, &nr) || nr.Tried["docker"] == ""):
		t.Fatalf("docker does not answer, but Runtime says %v", err)
	}
}

// TestRuntimeScripted runs Runtime against scripted docker/podman clients:
// no container engine can run on the machines this project is built on, so
// scripts stand in for clients whose daemon is down or up.
func TestRuntimeScripted(t *testing.T) {
	script := func(dir, name, body string) {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755)
	}
	down := t.TempDir()
	script(down, "docker", `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`)
	script(down, "podman", `echo "Error: unable to connect to Podman socket" >&2; exit 125`)
	t.Setenv("PATH", down)
	_, err := Runtime(context.Background())
	var nr *NoRuntimeError
	if !errors.As(err, &nr) {
		t.Fatalf("want NoRuntimeError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"docker info: Cannot connect to the Docker daemon", "podman info: Error: unable to connect", "cluster \"existing\""} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}

	t.Setenv("PATH", t.TempDir())
	if _, err := Runtime(context.Background()); err == nil || !strings.Contains(err.Error(), "neither docker nor podman is installed") {
		t.Fatalf("no client: %v", err)
	}

	up := t.TempDir()
	script(up, "podman", `echo 5.4.0`)
	t.Setenv("PATH", up)
	if _, err := Runtime(context.Background()); err != nil {
		t.Fatalf("a podman that answers must do: %v", err)
	}
}

// recorder stands in for kind's provider, which needs a container engine
// that cannot run here; the kind-tagged e2e test drives the real one.
type recorder struct {
	clusters []string
	creates  int
}

func (r *recorder) Create(name string, _ ...cluster.CreateOption) error {
	r.creates++
	r.clusters = append(r.clusters, name)
	return nil
}
func (r *recorder) List() ([]string, error) { return r.clusters, nil }
func (r *recorder) KubeConfig(name string, _ bool) (string, error) {
	return "apiVersion: v1\nkind: Config\ncurrent-context: kind-" + name + "\n", nil
}
func (r *recorder) Delete(name, _ string) error {
	r.clusters = nil
	return nil
}

func TestEnsureIsIdempotent(t *testing.T) {
	rec := &recorder{}
	kc := filepath.Join(t.TempDir(), "state", "kubeconfig")
	c := &Cluster{Name: "dev", Spec: &spec.KindCluster{Nodes: []spec.KindNode{{Role: "control-plane"}}}, KubeconfigPath: kc, p: rec}
	created, err := c.Ensure(context.Background())
	if err != nil || !created || rec.creates != 1 {
		t.Fatalf("first ensure: created=%v creates=%d err=%v", created, rec.creates, err)
	}
	fi, err := os.Stat(kc)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v %v", fi, err)
	}
	created, err = c.Ensure(context.Background())
	if err != nil || created || rec.creates != 1 {
		t.Fatalf("second ensure must not create: created=%v creates=%d err=%v", created, rec.creates, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kc); !os.IsNotExist(err) {
		t.Fatal("delete must remove the kubeconfig")
	}
	if err := c.Delete(); err != nil {
		t.Fatalf("deleting twice must be fine: %v", err)
	}
}
