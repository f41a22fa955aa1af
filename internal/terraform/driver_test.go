package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/zclconf/go-cty/cty"
)

// realTerraform finds the terraform binary the tests drive; they need no
// provider download (terraform_data and local-exec are builtin).
func realTerraform(t *testing.T) *Binary {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
	bin, err := Find(context.Background(), FindOptions{CacheDir: t.TempDir(), Installer: failingInstaller{}})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type failingInstaller struct{}

func (failingInstaller) Install(context.Context, *version.Version, string) (string, error) {
	return "", errors.New("no network in tests")
}

// lines collects progress lines (safe for the driver's goroutine).
type lines struct {
	mu sync.Mutex
	l  []string
	on func(string)
}

func (l *lines) add(s string) {
	l.mu.Lock()
	l.l = append(l.l, s)
	on := l.on
	l.mu.Unlock()
	if on != nil {
		on(s)
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// workdir makes a working directory holding the fixture module under
// modules/fixture and the root module calling it.
func workdir(t *testing.T, dir string, inputs map[string]cty.Value, backend *Backend) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "modules", "fixture"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "fixture", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules", "fixture", "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	root := RootModule{ModuleName: "cluster", Source: "./modules/fixture", Inputs: inputs, Backend: backend,
		Outputs: []Output{{Name: "cluster_name"}, {Name: "labels"}, {Name: "endpoint", Sensitive: true}}}
	if _, err := writeFiles(dir, root.Render(), RenderBackendConfig(backend)); err != nil {
		t.Fatal(err)
	}
}

func writeFiles(dir string, root, backend []byte) (bool, error) {
	d := &Driver{Dir: dir}
	return d.WriteFiles(root, backend)
}

func newDriver(t *testing.T, bin *Binary, dir string, progress *lines) *Driver {
	t.Helper()
	d, err := New(bin, Options{Dir: dir, Progress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLifecycleLocalState(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin := realTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	inputs := map[string]cty.Value{"name": cty.StringVal("dev"), "labels": cty.MapVal(map[string]cty.Value{"team": cty.StringVal("platform")})}
	workdir(t, dir, inputs, nil)
	progress := &lines{}
	d := newDriver(t, bin, dir, progress)
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := d.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Add != 2 || sum.Change != 0 || sum.Destroy != 0 || len(sum.Changes) != 2 {
		t.Fatalf("plan of a new state: %+v, want 2 to add", sum)
	}
	if sum.Changes[0].Address != "module.cluster.terraform_data.cluster" || sum.Changes[0].Actions[0] != "create" {
		t.Errorf("first change: %+v", sum.Changes[0])
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "module.cluster.terraform_data.cluster: Creation complete") {
		t.Errorf("apply streamed no progress of the resources:\n%s", progress)
	}
	out, err := d.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var labels map[string]string
	if err := json.Unmarshal(out["cluster_name"], &name); err != nil || name != "dev" {
		t.Errorf("cluster_name = %s (%v)", out["cluster_name"], err)
	}
	if err := json.Unmarshal(out["labels"], &labels); err != nil || labels["team"] != "platform" {
		t.Errorf("labels = %s (%v)", out["labels"], err)
	}
	if string(out["endpoint"]) != `"https://dev.example.test"` {
		t.Errorf("endpoint (a sensitive output) = %s", out["endpoint"])
	}

	// A second run, with a new driver, finds the state and nothing to do.
	d2 := newDriver(t, bin, dir, &lines{})
	if err := d2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err = d2.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Empty() {
		t.Fatalf("second plan: %+v, want no change", sum)
	}
	has, err := d2.HasState(ctx)
	if err != nil || !has {
		t.Fatalf("HasState after apply = %t, %v", has, err)
	}

	// A changed input is an update in place.
	workdir(t, dir, map[string]cty.Value{"name": cty.StringVal("dev2"), "labels": inputs["labels"]}, nil)
	sum, err = d2.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Change != 1 || sum.Add != 0 || sum.Destroy != 0 {
		t.Fatalf("plan after renaming: %+v, want 1 to change", sum)
	}
	sum, err = d2.Plan(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Destroy != 2 {
		t.Fatalf("destroy plan: %+v, want 2 to destroy", sum)
	}
	if err := d2.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if has, err := d2.HasState(ctx); err != nil || has {
		t.Fatalf("HasState after destroy = %t, %v", has, err)
	}
}

func TestErrorsCarryDiagnostics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin := realTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	// "nmae" is not a variable of the module: Terraform reports it with its
	// place in main.tf.
	workdir(t, dir, map[string]cty.Value{"nmae": cty.StringVal("dev")}, nil)
	d := newDriver(t, bin, dir, &lines{})
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := d.Plan(ctx, false)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("plan error %T %v, want *Error", err, err)
	}
	if te.Command != "plan" {
		t.Errorf("Command = %q", te.Command)
	}
	var summaries []string
	for _, d := range te.Errors() {
		summaries = append(summaries, d.Summary)
	}
	if !contains(summaries, "Unsupported argument") || !contains(summaries, "Missing required argument") {
		t.Fatalf("diagnostics %q, want Unsupported argument and Missing required argument", summaries)
	}
	msg := err.Error()
	for _, want := range []string{
		"terraform plan failed with 2 error(s)",
		filepath.Join(dir, "main.tf") + ":",
		`An argument named "nmae" is not expected here.`,
		`nmae = "dev"`, // the source snippet
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if j := te.JSON(); len(j) != 2 || j[0].Range == nil || j[0].Snippet == "" {
		t.Errorf("JSON diagnostics: %+v", j)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestInitErrorOfABadBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin := realTerraform(t)
	dir := t.TempDir()
	workdir(t, dir, map[string]cty.Value{"name": cty.StringVal("dev")},
		&Backend{Type: "local", Config: map[string]cty.Value{"no_such_setting": cty.StringVal("x")}})
	err := newDriver(t, bin, dir, &lines{}).Init(context.Background())
	var te *Error
	if !errors.As(err, &te) || te.Command != "init" {
		t.Fatalf("init error %T %v, want *Error of init", err, err)
	}
	if !strings.Contains(err.Error(), "no_such_setting") {
		t.Errorf("init error does not name the bad setting:\n%v", err)
	}
}

func TestApplyCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin := realTerraform(t)
	dir := t.TempDir()
	inputs := map[string]cty.Value{"name": cty.StringVal("dev"), "sleep_seconds": cty.NumberIntVal(120)}
	workdir(t, dir, inputs, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as Terraform says it started the slow resource.
	progress := &lines{on: func(s string) {
		if strings.Contains(s, "terraform_data.slow: Creating...") {
			cancel()
		}
	}}
	d := newDriver(t, bin, dir, progress)
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	err := d.Apply(ctx)
	if !IsCanceled(err) {
		t.Fatalf("apply error %v, want a cancellation\nprogress:\n%s", err, progress)
	}
	var te *Error
	if !errors.As(err, &te) || te.Command != "apply" {
		t.Errorf("cancelled apply error %T, want *Error of apply", err)
	}
	// Interrupted gracefully: the state is consistent and the next run
	// converges.
	inputs["sleep_seconds"] = cty.NumberIntVal(0)
	workdir(t, dir, inputs, nil)
	d2 := newDriver(t, bin, dir, &lines{})
	if err := d2.Apply(context.Background()); err != nil {
		t.Fatalf("apply after the interruption: %v", err)
	}
	sum, err := d2.Plan(context.Background(), false)
	if err != nil || !sum.Empty() {
		t.Fatalf("plan after converging: %+v, %v", sum, err)
	}
}
