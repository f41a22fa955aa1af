package up

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// TestSideBySide: the applies run at the same time (each waits for the
// other to have started, which one after the other would never happen),
// both run to their end when one fails, and the outcome is NoChange only
// when every one changed nothing.
func TestSideBySide(t *testing.T) {
	ctx := context.Background()
	started := make(chan struct{}, 2)
	meet := func(result error) func(context.Context) error {
		return func(context.Context) error {
			started <- struct{}{}
			deadline := time.After(10 * time.Second)
			for len(started) < 2 {
				select {
				case <-deadline:
					return errors.New("the other apply never started: they ran one after the other")
				case <-time.After(time.Millisecond):
				}
			}
			return result
		}
	}
	if err := sideBySide(ctx, meet(nil), meet(actions.NoChange)); err != nil {
		t.Fatalf("one changed, one did not: %v, want nil", err)
	}
	started = make(chan struct{}, 2)
	if err := sideBySide(ctx, meet(actions.NoChange), meet(actions.NoChange)); !errors.Is(err, actions.NoChange) {
		t.Fatalf("neither changed: %v, want NoChange", err)
	}
	started = make(chan struct{}, 2)
	one, two := errors.New("argo-cd: timed out"), errors.New("sealed-secrets: forbidden")
	err := sideBySide(ctx, meet(one), meet(two))
	if !errors.Is(err, one) || !errors.Is(err, two) {
		t.Fatalf("both failed: %v, want both errors", err)
	}
	var finished bool
	err = sideBySide(ctx, func(context.Context) error { return one }, func(context.Context) error {
		time.Sleep(20 * time.Millisecond)
		finished = true
		return nil
	})
	if !errors.Is(err, one) || !finished {
		t.Fatalf("one failed at once: %v, the other finished: %v", err, finished)
	}
}

// TestRebuildStepsBySecretsProvider: the keys go back in a step of their
// own before anything that reads them; the secrets controller is installed
// in the reconciler's step, beside it; External Secrets has no key to
// restore.
func TestRebuildStepsBySecretsProvider(t *testing.T) {
	src := func(secrets string) string {
		return `environment "e" {
  cluster "kind" {}
  gitops {
    engine = "argocd"
    repository { url = "https://git.example/fleet.git" }
  }
  secrets {
` + secrets + `
  }
}
`
	}
	cases := []struct {
		name, secrets string
		want          []string // step names
		reconciler    string   // in the reconciler step's title
		releases      int      // Helm releases the reconciler step creates
	}{
		{"sealed-secrets", `provider = "sealed-secrets"
    key_store "file" { path = "/k.pem" }`, []string{"cluster", "kubeconfig", StepRestoreKeys, "reconciler", StepRestoreSeed, "sync", "wait"}, "and Sealed Secrets beside it", 2},
		{"external-secrets", `provider = "external-secrets"
    external_store "aws-secrets-manager" { region = "eu-west-1" }`, []string{"cluster", "kubeconfig", "reconciler", StepRestoreSeed, "sync", "wait"}, "and External Secrets Operator beside it", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := spec.Parse("e.hcl", []byte(src(c.secrets)), spec.Options{})
			if res.Diags.HasErrors() {
				t.Fatal(res.Diags)
			}
			r, err := New(Options{Env: res.Env, StateDir: t.TempDir(), CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var rec actions.Description
			for _, s := range r.RebuildSteps() {
				d := s.Plan()
				names = append(names, d.Name)
				if d.Name == "reconciler" {
					rec = d
				}
			}
			if strings.Join(names, " ") != strings.Join(c.want, " ") {
				t.Errorf("steps %v, want %v", names, c.want)
			}
			if !strings.Contains(rec.Title, c.reconciler) {
				t.Errorf("reconciler step %q does not say %q", rec.Title, c.reconciler)
			}
			n := 0
			for _, a := range rec.Actions {
				if strings.HasPrefix(a.Resource, "Helm release ") {
					n++
				}
			}
			if n != c.releases {
				t.Errorf("the reconciler step creates %d Helm releases, want %d: %+v", n, c.releases, rec.Actions)
			}
		})
	}
}

// TestAdoptChecksTheKubeconfig: the cluster step of an existing cluster is
// done only when its kubeconfig is there with the context named; otherwise
// it fails saying which file or context is missing (before, it was ✓ and
// the kubeconfig step failed with a raw "stat" error).
func TestAdoptChecksTheKubeconfig(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	env := func(path, context string) *spec.Environment {
		res := spec.Parse("e.hcl", []byte(`environment "e" {
  cluster "existing" {
    kubeconfig = "`+path+`"
    context    = "`+context+`"
  }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
}
`), spec.Options{})
		if res.Diags.HasErrors() {
			t.Fatal(res.Diags)
		}
		return res.Env
	}
	check := func(e *spec.Environment) (actions.Status, error) {
		r, err := New(Options{Env: e, StateDir: t.TempDir(), CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return r.checkCluster(context.Background())
	}
	if _, err := check(env(kubeconfig, "dev")); err == nil || !strings.Contains(err.Error(), "kubeconfig "+kubeconfig+" does not exist") {
		t.Fatalf("a missing kubeconfig: %v", err)
	}
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {server: \"https://127.0.0.1:6443\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: dev\n  context: {cluster: a, user: u}\n"
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := check(env(kubeconfig, "prod")); err == nil || !strings.Contains(err.Error(), `has no context "prod"; it has: dev`) {
		t.Fatalf("a missing context: %v", err)
	}
	if st, err := check(env(kubeconfig, "dev")); err != nil || !st.Done {
		t.Fatalf("kubeconfig and context there: %+v %v", st, err)
	}
}
