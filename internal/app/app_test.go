package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/cmdutil"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}
	code = Run(context.Background(), io, args, func() []string { return nil })
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := devEnv(dir)
	unreachable := unreachableEnv(dir)
	nokey := filepath.Join(dir, "nokey.hcl")
	os.WriteFile(nokey, []byte(`environment "gone" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    key_store "file" { path = "nokey.agekey" }
  }
}`), 0o644)
	unsupported := filepath.Join(dir, "unsupported.hcl")
	os.WriteFile(unsupported, []byte(`environment "prod" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    key_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}`), 0o644)
	cases := []struct {
		args []string
		code int
		out  string // substring of stdout
		err  string // substring of stderr
	}{
		{[]string{"validate", good}, 0, "valid", ""},
		{[]string{"plan", good, "--state-dir", dir}, 0, "7 steps", ""},
		{[]string{"plan", good, "--state-dir", dir, "--detailed-exitcode"}, 3, "7 to run", ""},
		{[]string{"validate", filepath.Join(dir, "missing.hcl")}, 2, "", "Cannot read environment file"},
		{[]string{"plan"}, 2, "", "plan takes FILE; got no arguments: FILE is missing"},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		// Terraform's, kubectl's and helm's words for up and down.
		{[]string{"apply"}, 2, "", "Did you mean this?\n\tup\n"},
		{[]string{"destroy"}, 2, "", "Did you mean this?\n\tdown\n"},
		{[]string{"install"}, 2, "", "Did you mean this?\n\tup\n"},
		{[]string{"delete"}, 2, "", "Did you mean this?\n\tdown\n"},
		{[]string{"plan", good, "--nope"}, 2, "", "unknown flag: --nope"},
		{[]string{"plan", good, "--output", "yaml"}, 2, "", "--output must be text or json"},
		{[]string{"version"}, 0, "groundwork ", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		// up reads the repository before its first step: unreachable here.
		{[]string{"up", unreachable, "--lock-timeout", "0"}, 1, "", "cannot read https://github.com/acme/fleet.git"},
		{[]string{"up", unsupported}, 2, "", "Keeping the sealing key in a aws-secrets-manager key store is not implemented yet"},
		{[]string{"down", good}, 2, "", "delete the kind cluster \"dev\""},
		{[]string{"down", good}, 2, "", "run it again with --yes"},
		{[]string{"rebuild", nokey}, 1, "", "the age key of environment gone is missing: no key at " + filepath.Join(dir, "nokey.agekey")},
		{[]string{"status", unreachable}, 1, "does not answer", "groundwork cannot start a cluster it adopted"},
		{[]string{"gc"}, 2, "", "gc takes FILE...; got no arguments: FILE... is missing"},
		{[]string{"secret", "set", good}, 2, "", "secret set takes FILE NAMESPACE/NAME key=value...; got 1 argument (" + good + "): NAMESPACE/NAME and key=value... are missing"},
		{[]string{"plan", good, good}, 2, "", "plan takes FILE; got 2 arguments"},
		{[]string{"gc", good}, 0, "No instances of ephemeral environments found.", ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			if !strings.Contains(out, c.out) {
				t.Errorf("stdout lacks %q: %s", c.out, out)
			}
			if !strings.Contains(errOut, c.err) {
				t.Errorf("stderr lacks %q: %s", c.err, errOut)
			}
		})
	}
}

// TestOneJSONFailureShape: under --output json every failure, flag errors
// included, is one document on stdout with an "error" object of one shape
// (up's was {"succeeded": false, "error"}, a bad file's {"valid": false}
// without one, a flag error's none at all).
func TestOneJSONFailureShape(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	good := write("dev.hcl", `environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`)
	bad := write("bad.hcl", `environment "bad" {
  cluster "kind" {}
  bogus = 1
}`)
	unsupported := write("unsupported.hcl", `environment "prod" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "sealed-secrets"
    key_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}`)
	os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600)
	unreachable := write("gone.hcl", `environment "gone" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`)
	cases := []struct {
		args []string
		code int
		kind string
	}{
		{[]string{"plan", good, "--bogus", "-o", "json"}, 2, "usage"},
		{[]string{"plan", good, "--bogus", "--output=json"}, 2, "usage"},
		{[]string{"bogus", "-o", "json"}, 2, "usage"},
		{[]string{"plan", "-o", "json"}, 2, "usage"},
		{[]string{"plan", bad, "-o", "json"}, 2, "environment_file"},
		{[]string{"validate", bad, "-o", "json"}, 2, "environment_file"},
		{[]string{"up", unsupported, "-o", "json"}, 2, "usage"},
		{[]string{"up", unreachable, "--lock-timeout", "0", "-o", "json"}, 1, "prerequisites"},
		{[]string{"status", unreachable, "-o", "json"}, 1, "failed"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, errOut)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var doc struct {
				FormatVersion string `json:"format_version"`
				Error         *struct {
					Kind        string            `json:"kind"`
					Message     string            `json:"message"`
					ExitCode    int               `json:"exit_code"`
					Diagnostics []json.RawMessage `json:"diagnostics"`
				} `json:"error"`
			}
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("stdout is no JSON document: %v\n%s", err, out)
			}
			if dec.More() {
				t.Errorf("more than one document:\n%s", out)
			}
			if doc.FormatVersion != "1" || doc.Error == nil || doc.Error.Message == "" || doc.Error.ExitCode != code || doc.Error.Kind != c.kind {
				t.Errorf("not the failure shape (kind %s):\n%s", c.kind, out)
			}
			if c.kind == "environment_file" && (doc.Error == nil || len(doc.Error.Diagnostics) == 0) {
				t.Errorf("the file's problems are not in the error:\n%s", out)
			}
		})
	}
}

// TestPrerequisitesAllAtOnce: up checks every prerequisite before its first
// change and reports every unmet one together (it stopped at the first,
// the repository, and a missing age-key variable showed only after a
// cluster was made).
func TestPrerequisitesAllAtOnce(t *testing.T) {
	dir := t.TempDir()
	// No container runtime on PATH, wherever the test runs.
	t.Setenv("PATH", t.TempDir())
	file := filepath.Join(dir, "ci.hcl")
	os.WriteFile(file, []byte(`environment "ci" {
  cluster "kind" {}
  gitops {
    repository {
      url = "https://github.com/acme/fleet.git"
      auth { token_env = "FLEET_TOKEN" }
    }
  }
  secrets {
    key_store "env" { variable = "CI_AGE_KEY" }
  }
}`), 0o644)
	code, out, errOut := run(t, "up", file, "--lock-timeout", "0", "-o", "json")
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, errOut)
	}
	var doc struct {
		Error struct {
			Kind     string
			Problems []struct{ What, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, p := range doc.Error.Problems {
		got = append(got, p.What)
	}
	if doc.Error.Kind != "prerequisites" || strings.Join(got, ", ") != "container runtime, key store, GitOps repository" {
		t.Fatalf("want the three problems, in order:\n%s", out)
	}
	for i, want := range []string{"neither docker nor podman is installed", "CI_AGE_KEY (key_store \"env\") is not set", "FLEET_TOKEN (token_env) is not set"} {
		if !strings.Contains(doc.Error.Problems[i].Message, want) {
			t.Errorf("problem %d lacks %q: %s", i, want, doc.Error.Problems[i].Message)
		}
	}
	if !strings.Contains(errOut, "3 prerequisites of up are not met:\n  - container runtime: ") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".groundwork")); err == nil {
		t.Error("a refused up left a state directory")
	}
}

// TestPendingPlanIsOneDocument: plan --detailed-exitcode -o json exits 3
// with its plan, and no failure document after it (3 is no failure).
func TestPendingPlanIsOneDocument(t *testing.T) {
	dir := t.TempDir()
	good := devEnv(dir)
	code, out, _ := run(t, "plan", good, "--offline", "--detailed-exitcode", "-o", "json")
	dec := json.NewDecoder(strings.NewReader(out))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || code != cmdutil.ExitChanges || dec.More() || doc["error"] != nil {
		t.Errorf("exit %d, %v:\n%s", code, err, out)
	}
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range []string{"validate", "plan", "up", "down", "rebuild", "status", "gc", "version", "completion"} {
		code, out, _ := run(t, c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s", c, code, out)
		}
	}
	_, out, _ := run(t, "--help")
	for _, flag := range []string{"--var", "--var-file", "--output", "--yes", "--timeout", "--verbose", "--state-dir"} {
		if !strings.Contains(out, flag) {
			t.Errorf("global flag %s missing from help", flag)
		}
	}
}

// TestInterruptedAndTimedOut: Ctrl-C and --timeout are said as such, not
// as a cluster or repository fault, and Ctrl-C exits 130.
func TestInterruptedAndTimedOut(t *testing.T) {
	dir := t.TempDir()
	file := unreachableEnv(dir)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&cmdutil.SignalError{Signal: os.Interrupt})
	var out, errOut bytes.Buffer
	code := Run(ctx, &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}, []string{"up", file, "--lock-timeout", "0"}, func() []string { return nil })
	if code != cmdutil.ExitInterrupted || !strings.Contains(errOut.String(), "Error: interrupted") || strings.Contains(errOut.String(), "cannot read") {
		t.Errorf("Ctrl-C: exit %d\n%s", code, errOut.String())
	}
	code, _, stderr := run(t, "up", file, "--lock-timeout", "0", "--timeout", "1ns")
	if code != cmdutil.ExitFailure || !strings.Contains(stderr, "Error: timed out after 1ns") || strings.Contains(stderr, "does not answer") {
		t.Errorf("--timeout: exit %d\n%s", code, stderr)
	}
}

// unreachableEnv writes, in dir, environment "gone": an existing cluster
// whose kubeconfig points at a port nothing listens on. It returns the
// environment file.
func unreachableEnv(dir string) string {
	os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600)
	file := filepath.Join(dir, "gone.hcl")
	os.WriteFile(file, []byte(`environment "gone" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`), 0o644)
	return file
}

// devEnv writes, in dir, environment "dev" on a kind cluster; it returns the
// environment file.
func devEnv(dir string) string {
	file := filepath.Join(dir, "dev.hcl")
	os.WriteFile(file, []byte(`environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
}`), 0o644)
	return file
}
