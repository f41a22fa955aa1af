package terraform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// Files the driver keeps in its working directory.
const (
	// BackendConfigFile holds the backend settings (mode 0600: they may
	// hold credentials).
	BackendConfigFile = "backend.tfbackend"
	// RootModuleFile is the root module groundwork renders.
	RootModuleFile = "main.tf"
	planFile       = "groundwork.tfplan"
)

// Options configure a Driver.
type Options struct {
	// Dir is the working directory: the root module and .terraform.
	Dir string
	// Env is added to groundwork's own environment for terraform (cloud
	// credentials, AWS_ENDPOINT_URL_S3, ...). TF_* variables terraform-exec
	// manages itself are refused.
	Env map[string]string
	// Progress gets one line per step of Terraform's progress (nil: none).
	Progress func(line string)
	// LockTimeout is how long terraform waits for the state lock (0: it
	// fails at once with a *LockedError).
	LockTimeout time.Duration
}

// Driver runs terraform commands in one working directory.
type Driver struct {
	Dir string
	bin *Binary
	tf  *tfexec.Terraform
	o   Options
}

// New returns a driver for bin in o.Dir, which it creates (0700).
func New(bin *Binary, o Options) (*Driver, error) {
	// 0700: the plan file, a local state and the backend configuration
	// can hold secrets.
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(o.Dir, bin.Path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range o.Env {
		env[k] = v
	}
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k) // terraform-exec sets these itself
	}
	for k := range env {
		if strings.HasPrefix(k, "TF_VAR_") {
			delete(env, k) // groundwork passes every input in the root module
		}
	}
	env["CHECKPOINT_DISABLE"] = "1"
	if os.Getenv("GROUNDWORK_TF_DEBUG") != "" {
		tf.SetStderr(os.Stderr)
		tf.SetLogger(log.New(os.Stderr, "tfexec: ", 0))
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return &Driver{Dir: o.Dir, bin: bin, tf: tf, o: o}, nil
}

// Binary is the terraform the driver runs.
func (d *Driver) Binary() *Binary { return d.bin }

// WriteFiles writes the root module and the backend configuration into the
// working directory; changed reports whether either differed.
func (d *Driver) WriteFiles(root []byte, backend []byte) (changed bool, err error) {
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{RootModuleFile, root, 0o644}, {BackendConfigFile, backend, 0o600}} {
		p := filepath.Join(d.Dir, f.name)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(f.data) {
			if err := os.Chmod(p, f.mode); err != nil {
				return changed, err
			}
			continue
		}
		changed = true
		if err := writeFileAtomic(p, f.data, f.mode); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Init runs terraform init with the backend configuration file (when the
// working directory has one) and no input: a changed backend is an error
// that says so rather than a prompt to migrate the state.
func (d *Driver) Init(ctx context.Context) error {
	opts := []tfexec.InitOption{tfexec.Upgrade(false)}
	if fi, err := os.Stat(filepath.Join(d.Dir, BackendConfigFile)); err == nil && fi.Size() > 0 {
		opts = append(opts, tfexec.BackendConfig(BackendConfigFile))
	}
	return d.run(ctx, "init", func(w io.Writer) error { return d.tf.InitJSON(ctx, w, opts...) })
}

// SelectWorkspace selects the workspace name, creating it when missing.
func (d *Driver) SelectWorkspace(ctx context.Context, name string) error {
	if name == "" {
		name = "default"
	}
	list, cur, err := d.tf.WorkspaceList(ctx)
	if err != nil {
		return &Error{Command: "workspace list", Dir: d.Dir, Err: err}
	}
	switch {
	case cur == name:
		return nil
	case slices.Contains(list, name):
		if err := d.tf.WorkspaceSelect(ctx, name); err != nil {
			return &Error{Command: "workspace select", Dir: d.Dir, Err: err}
		}
	default:
		if err := d.tf.WorkspaceNew(ctx, name); err != nil {
			return &Error{Command: "workspace new", Dir: d.Dir, Err: err}
		}
		d.o.Progress("created Terraform workspace " + name)
	}
	return nil
}

// Change is one resource change of a plan.
type Change struct {
	Address string   `json:"address"`
	Actions []string `json:"actions"` // create, update, delete, read, no-op
}

// Summary is what a plan would do.
type Summary struct {
	Add     int      `json:"add"`
	Change  int      `json:"change"`
	Destroy int      `json:"destroy"`
	Changes []Change `json:"changes"`
	// Outputs lists the root module outputs whose value changes.
	Outputs []string `json:"outputs,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (s *Summary) Empty() bool { return s.Add+s.Change+s.Destroy == 0 && len(s.Outputs) == 0 }

func (s *Summary) String() string {
	return fmt.Sprintf("%d to add, %d to change, %d to destroy", s.Add, s.Change, s.Destroy)
}

// Plan runs terraform plan (destroy: a destroy plan), saves it in the
// working directory and summarises it from terraform show -json.
func (d *Driver) Plan(ctx context.Context, destroy bool) (*Summary, error) {
	opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Destroy(destroy), tfexec.LockTimeout(d.lockTimeout())}
	err := d.run(ctx, "plan", func(w io.Writer) error {
		_, err := d.tf.PlanJSON(ctx, w, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	p, err := d.tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return nil, &Error{Command: "show", Dir: d.Dir, Err: err}
	}
	return Summarize(p), nil
}

// Summarize counts a plan's resource changes like terraform does.
func Summarize(p *tfjson.Plan) *Summary {
	s := &Summary{Changes: []Change{}}
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.NoOp() || a.Read():
			continue
		case a.Create():
			s.Add++
		case a.Update():
			s.Change++
		case a.Delete():
			s.Destroy++
		case a.Replace():
			s.Add++
			s.Destroy++
		}
		acts := make([]string, len(a))
		for i, x := range a {
			acts[i] = string(x)
		}
		s.Changes = append(s.Changes, Change{Address: rc.Address, Actions: acts})
	}
	for name, oc := range p.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() {
			s.Outputs = append(s.Outputs, name)
		}
	}
	sort.Strings(s.Outputs)
	return s
}

// Apply applies: the plan Plan saved when there is one, else a fresh plan.
func (d *Driver) Apply(ctx context.Context) error {
	opts := []tfexec.ApplyOption{tfexec.LockTimeout(d.lockTimeout())}
	if _, err := os.Stat(filepath.Join(d.Dir, planFile)); err == nil {
		opts = []tfexec.ApplyOption{tfexec.DirOrPlan(planFile)}
	}
	err := d.run(ctx, "apply", func(w io.Writer) error { return d.tf.ApplyJSON(ctx, w, opts...) })
	_ = os.Remove(filepath.Join(d.Dir, planFile))
	return err
}

// Destroy destroys everything in the state.
func (d *Driver) Destroy(ctx context.Context) error {
	_ = os.Remove(filepath.Join(d.Dir, planFile))
	return d.run(ctx, "destroy", func(w io.Writer) error {
		return d.tf.DestroyJSON(ctx, w, tfexec.LockTimeout(d.lockTimeout()))
	})
}

// Output returns the root module's outputs, as JSON values.
func (d *Driver) Output(ctx context.Context) (map[string]json.RawMessage, error) {
	out, err := d.tf.Output(ctx)
	if err != nil {
		return nil, &Error{Command: "output", Dir: d.Dir, Err: err}
	}
	m := make(map[string]json.RawMessage, len(out))
	for k, v := range out {
		m[k] = v.Value
	}
	return m, nil
}

// HasState reports whether the selected workspace's state holds any
// resource (terraform show -json).
func (d *Driver) HasState(ctx context.Context) (bool, error) {
	st, err := d.tf.Show(ctx)
	if err != nil {
		return false, &Error{Command: "show", Dir: d.Dir, Err: err}
	}
	return st.Values != nil && st.Values.RootModule != nil &&
		(len(st.Values.RootModule.Resources) > 0 || len(st.Values.RootModule.ChildModules) > 0), nil
}

func (d *Driver) lockTimeout() string {
	return fmt.Sprintf("%ds", int(d.o.LockTimeout.Seconds()))
}

// run runs one -json command, streaming its progress and collecting its
// diagnostics.
func (d *Driver) run(ctx context.Context, command string, fn func(w io.Writer) error) error {
	s := &uiStream{progress: d.o.Progress}
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.consume(pr)
	}()
	err := fn(pw)
	// The -json commands of terraform-exec keep w as the stdout of every
	// later command: detach it.
	d.tf.SetStdout(io.Discard)
	pw.Close()
	wg.Wait()
	if err == nil {
		return nil
	}
	return classify(command, d.Dir, s.diags, err)
}

// uiStream reads Terraform's machine-readable UI: one JSON object a line.
type uiStream struct {
	progress func(string)
	diags    []tfjson.Diagnostic
}

type uiMessage struct {
	Level      string             `json:"@level"`
	Message    string             `json:"@message"`
	Type       string             `json:"type"`
	Diagnostic *tfjson.Diagnostic `json:"diagnostic"`
}

// shown are the message types worth a progress line; the rest (version,
// planned_change, apply_progress every 10s, ...) are noise or repeated by
// these.
var shown = map[string]bool{
	"apply_start": true, "apply_complete": true, "apply_errored": true,
	"provision_errored": true, "change_summary": true, "resource_drift": true,
	"init_output": true, "log": true,
}

func (s *uiStream) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 8*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var m uiMessage
		if err := json.Unmarshal(line, &m); err != nil {
			if t := strings.TrimSpace(string(line)); t != "" {
				s.progress(t)
			}
			continue
		}
		switch {
		case m.Type == "diagnostic" && m.Diagnostic != nil:
			s.diags = append(s.diags, *m.Diagnostic)
			if m.Diagnostic.Severity == tfjson.DiagnosticSeverityWarning {
				s.progress("warning: " + m.Diagnostic.Summary)
			}
		case shown[m.Type] && m.Message != "" && m.Level != "trace" && m.Level != "debug":
			s.progress(m.Message)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// IsCanceled reports whether err is a command interrupted by its context.
func IsCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
