package plan

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

var specOpts = spec.Options{Home: "/home/user", ConfigDir: "/home/user/.config"}

func load(t testing.TB, file string) *spec.Environment {
	t.Helper()
	res := spec.Load(file, specOpts)
	if res.Env == nil {
		t.Fatalf("%s does not load: %v", file, res.Diags)
	}
	return res.Env
}

// TestExamplePlans renders the plan of every example environment, as text
// and as JSON, against golden files.
func TestExamplePlans(t *testing.T) {
	files, _ := filepath.Glob("../../environments/*.hcl")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".hcl")
		t.Run(name, func(t *testing.T) {
			env := load(t, file)
			env.File = "environments/" + name + ".hcl"
			p := Build(env, Options{StateDir: "/state/" + env.Name})
			var text, js bytes.Buffer
			if err := p.WriteText(&text, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(&js, nil); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "testdata/"+name+".plan.golden", text.Bytes())
			golden.Assert(t, "testdata/"+name+".plan.golden.json", js.Bytes())
		})
	}
}

func names(ds []actions.Description) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return strings.Join(out, ",")
}

func TestStepOrderPerProvider(t *testing.T) {
	cases := map[string]string{
		"local":        "cluster,kubeconfig,reconciler,secrets,seed,sync,wait",
		"existing":     "cluster,kubeconfig,reconciler,secrets,seed,sync,wait",
		"eks":          "state,cluster,kubeconfig,reconciler,secrets,seed,sync,wait",
		"ci-ephemeral": "cluster,kubeconfig,reconciler,secrets,seed,sync,expiry,wait",
	}
	for name, want := range cases {
		p := Build(load(t, "../../environments/"+name+".hcl"), Options{StateDir: "/s"})
		if got := names(p.Steps); got != want {
			t.Errorf("%s: steps %s, want %s", name, got, want)
		}
	}
}

func TestPendingFollowsJournalAndInputs(t *testing.T) {
	env := load(t, "../../environments/local.hcl")
	p := Build(env, Options{StateDir: "/s"})
	j, err := actions.OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Pending(j)); n != len(p.Steps) {
		t.Fatalf("empty journal: %d pending, want all %d", n, len(p.Steps))
	}
	for _, s := range p.Steps {
		j.Steps[s.Name] = actions.StepRecord{State: actions.StateDone, Fingerprint: s.Fingerprint}
	}
	if n := len(p.Pending(j)); n != 0 {
		t.Fatalf("all recorded: %d pending", n)
	}
	// Changing an addon's version changes the seed step's inputs only.
	env.Addons[0].Version = "4.12.0"
	p2 := Build(env, Options{StateDir: "/s"})
	if got := names(p2.Pending(j)); got != "seed" {
		t.Fatalf("after an addon change, pending = %q, want seed", got)
	}
	var out bytes.Buffer
	p2.WriteText(&out, j)
	if !strings.Contains(out.String(), "1 to run") || !strings.Contains(out.String(), "(done in the last run with these inputs)") {
		t.Fatalf("text does not show what is pending:\n%s", out.String())
	}
}

func TestPlanNeverPrintsBackendCredentials(t *testing.T) {
	src := `environment "e" {
  cluster "eks" { region = "eu-west-1" }
  state "s3" {
    bucket     = "b"
    key        = "k"
    region     = "eu-west-1"
    access_key = "AKIAEXAMPLEKEY"
    secret_key = "very-secret-value"
  }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`
	res := spec.Parse("e.hcl", []byte(src), specOpts)
	if res.Env == nil {
		t.Fatal(res.Diags)
	}
	var text, js bytes.Buffer
	p := Build(res.Env, Options{StateDir: "/s"})
	p.WriteText(&text, nil)
	p.WriteJSON(&js, nil)
	for _, out := range []string{text.String(), js.String()} {
		if strings.Contains(out, "very-secret-value") || strings.Contains(out, "AKIAEXAMPLEKEY") {
			t.Fatalf("credential printed:\n%s", out)
		}
		if !strings.Contains(out, "bucket=b") {
			t.Fatalf("non-secret settings must still show:\n%s", out)
		}
	}
}

// hundredAddons is an environment file with n addons.
func hundredAddons(n int) []byte {
	var b strings.Builder
	b.WriteString(`variable "replicas" {
  type    = number
  default = 2
}
environment "big" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `  addon "addon-%d" {
    chart      = "chart-%d"
    repository = "https://charts.example.com/%d"
    version    = "1.%d.0"
    namespace  = "ns-%d"
    values = {
      replicaCount = var.replicas
      image        = { repository = "registry.example.com/app-%d", tag = "v1.0.%d" }
      resources    = { requests = { cpu = "100m", memory = "128Mi" } }
    }
  }
`, i, i, i, i, i%10, i, i)
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// BenchmarkValidatePlan100Addons measures parse + validate + plan (and its
// rendering) of a spec with 100 addons: the figure behind "validate+plan of
// a 100-addon spec".
func BenchmarkValidatePlan100Addons(b *testing.B) {
	src := hundredAddons(100)
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		res := spec.Parse("big.hcl", src, specOpts)
		if res.Env == nil || len(res.Env.Addons) != 100 {
			b.Fatalf("spec: %v", res.Diags)
		}
		out.Reset()
		if err := Build(res.Env, Options{StateDir: "/s"}).WriteText(&out, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHundredAddonsValid(t *testing.T) {
	res := spec.Parse("big.hcl", hundredAddons(100), specOpts)
	if res.Env == nil || len(res.Env.Addons) != 100 {
		t.Fatalf("the benchmark's spec must be valid: %v", res.Diags)
	}
	if got := res.Env.Addons[42].Values["replicaCount"]; got != float64(2) {
		t.Fatalf("values not decoded: %v", got)
	}
}

// TestNotificationsPlan shows the notification targets of a Flux and of an
// Argo CD environment: name, type, the variable the URL comes from and the
// events, in text and JSON, and what each reconciler gets for them. No URL
// can be in a plan: plan never has one.
func TestNotificationsPlan(t *testing.T) {
	for _, name := range []string{"valid-notifications", "valid-notifications-argocd"} {
		t.Run(name, func(t *testing.T) {
			env := load(t, "../spec/testdata/"+name+".hcl")
			env.File = name + ".hcl"
			p := Build(env, Options{StateDir: "/state/" + env.Name})
			var text, js bytes.Buffer
			if err := p.WriteText(&text, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(&js, nil); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "testdata/"+strings.TrimPrefix(name, "valid-")+".plan.golden", text.Bytes())
			golden.Assert(t, "testdata/"+strings.TrimPrefix(name, "valid-")+".plan.golden.json", js.Bytes())
			for _, tgt := range env.Notifications.Targets {
				if !strings.Contains(text.String(), "$"+tgt.URLEnv) || !strings.Contains(js.String(), `"url_env": "`+tgt.URLEnv+`"`) {
					t.Errorf("target %s: its variable is not shown", tgt.Name)
				}
			}
		})
	}
	// Adding notifications changes the seed step's inputs, and with Argo
	// CD the sync step's (the Secret with the URLs).
	env := load(t, "../spec/testdata/valid-notifications.hcl")
	with := Build(env, Options{StateDir: "/s"})
	env.Notifications = nil
	without := Build(env, Options{StateDir: "/s"})
	for i := range with.Steps {
		changed := with.Steps[i].Fingerprint != without.Steps[i].Fingerprint
		if changed != (with.Steps[i].Name == StepSeed) {
			t.Errorf("step %s: fingerprint changed %t", with.Steps[i].Name, changed)
		}
	}
}
