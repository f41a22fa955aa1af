package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Layer is one layer of an environment, in the order a rebuild brings
// them back.
type Layer string

// The layers, in order.
const (
	LayerCluster        Layer = "cluster"
	LayerKeys           Layer = "keys"
	LayerReconciler     Layer = "reconciler"
	LayerSources        Layer = "sources"
	LayerInfrastructure Layer = "infrastructure"
	LayerApps           Layer = "apps"
)

// Layers are every layer in order.
var Layers = []Layer{LayerCluster, LayerKeys, LayerReconciler, LayerSources, LayerInfrastructure, LayerApps}

// Title is what a layer stands for, for people.
func (l Layer) Title() string {
	switch l {
	case LayerCluster:
		return "Scratch cluster up and answering"
	case LayerKeys:
		return "Keys in the key store match Git, and restored"
	case LayerReconciler:
		return "Reconciler installed at the version Git declares"
	case LayerSources:
		return "Sources fetched"
	case LayerInfrastructure:
		return "Infrastructure (addons) ready"
	case LayerApps:
		return "Apps ready, secrets decrypted, unsealed, synced"
	}
	return string(l)
}

// Target is the scratch cluster: a kind cluster the drill makes, or one the
// user provides. It is never the environment's own cluster.
type Target interface {
	// Describe says which cluster it is, for the report.
	Describe() string
	// Provide makes (kind) or connects to (the user's) the cluster and
	// returns its kubeconfig and context.
	Provide(ctx context.Context) (kubeconfig, kubeContext string, err error)
	// Remove deletes the cluster (kind) or what the drill installed into
	// it (the user's); it reports what it could not remove.
	Remove(ctx context.Context) (left []string, err error)
}

// Rebuild is rebuild's run (internal/up) on the scratch cluster: the
// drill runs its steps, except the one that commits.
type Rebuild interface {
	Preflight(ctx context.Context) error
	RebuildSteps() []actions.Step
	UseJournal(j *actions.Journal)
	Client() *kube.Client
	Snapshot() (revision string, files map[string][]byte)
}

// KeyCustody checks that the keys in the key store are the ones Git's
// encrypted files are for, and that one file actually decrypts; an error
// names the file (and the recipient).
type KeyCustody interface {
	Check(ctx context.Context, env *spec.Environment, files map[string][]byte) error
}

// Inspector reads, in the scratch cluster, the health of the objects of a
// layer that Git declares.
type Inspector interface {
	Look(ctx context.Context, l Layer) ([]Object, error)
}

// Options are what a drill needs.
type Options struct {
	// Env is the environment as its file declares it (the live one).
	Env *spec.Environment
	// File is the environment file, for advice.
	File string
	// Instance names the drill ("<env>-drill-<id>"): the kind cluster's
	// name and the expiry record's environment, as gc expects them.
	Instance string
	// StateDir is the drill's own state directory, never the live
	// environment's: its journal and lock stay untouched.
	StateDir string
	Target   Target
	// NewRebuild makes rebuild's run for env (pointed at the scratch
	// cluster) with its state in stateDir.
	NewRebuild func(env *spec.Environment, stateDir string) (Rebuild, error)
	Custody    KeyCustody
	// NewInspector reads objects with the scratch cluster's client; nil
	// means the cluster inspector.
	NewInspector func(c *kube.Client, env *spec.Environment, files map[string][]byte) Inspector
	// RecordExpiry writes the expiry record into the scratch cluster; nil
	// means the ConfigMap up's expiry step writes.
	RecordExpiry func(ctx context.Context, c *kube.Client, instance string, env *spec.Environment, expires time.Time) error
	// TTL is how long the expiry record gives the drill before gc may
	// delete what it left (default 2h).
	TTL      time.Duration
	Reporter actions.Reporter
	Now      func() time.Time
	Logf     func(format string, args ...any)
	// Poll is the interval between looks at a layer (default 1s).
	Poll time.Duration
}

// LayerError is the failure of a layer.
type LayerError struct {
	Layer Layer
	Err   error
}

func (e *LayerError) Error() string { return fmt.Sprintf("layer %s failed: %v", e.Layer, e.Err) }
func (e *LayerError) Unwrap() error { return e.Err }

// rebuildSteps maps rebuild's steps (by the names its journal knows them
// by) to layers; a step not named here runs in the layer of the step
// before it.
var rebuildSteps = map[string]Layer{
	plan.StepCluster:    LayerCluster,
	plan.StepKubeconfig: LayerCluster,
	"restore-keys":      LayerKeys,
	plan.StepReconciler: LayerReconciler,
	plan.StepSync:       LayerSources,
	plan.StepWait:       LayerApps,
}

// StepLayer is the layer a rebuild step runs in; false for a step the
// drill does not know (it runs in the layer of the step before it) or
// leaves out (it commits).
func StepLayer(name string) (Layer, bool) {
	l, ok := rebuildSteps[name]
	return l, ok
}

// committing are rebuild's steps the drill never runs: they commit.
var committing = map[string]bool{"restore-missing-files": true}

// Run drills: the layers in order, then the removal of what it made,
// whatever happened (ctx cancelled included). The report is complete in
// every case; the error is the first failed layer's (a *LayerError) or the
// removal's.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.TTL == 0 {
		o.TTL = 2 * time.Hour
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	d := &driller{o: o, start: o.Now()}
	d.rep = &Report{FormatVersion: "1", Environment: o.Env.Name, Instance: o.Instance, Target: o.Target.Describe(), Started: d.start.UTC()}
	for _, l := range Layers {
		d.rep.Layers = append(d.rep.Layers, LayerResult{Name: l, State: StateNotReached, Objects: []Object{}})
	}
	err := d.layers(ctx)
	if err == nil {
		d.rep.Passed = true
		d.rep.RTOMS = o.Now().Sub(d.start).Milliseconds()
	} else {
		var le *LayerError
		if errors.As(err, &le) {
			d.rep.FailedLayer = le.Layer
		}
	}
	// The removal runs to its end whatever ctx says: a drill stopped with
	// Ctrl-C still leaves nothing behind.
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Minute)
	defer cancel()
	rmStart := o.Now()
	left, rmErr := o.Target.Remove(rmCtx)
	d.rep.Removal = &Removal{TookMS: o.Now().Sub(rmStart).Milliseconds(), Left: left}
	if rmErr == nil && len(left) > 0 {
		rmErr = fmt.Errorf("left behind: %s", strings.Join(left, ", "))
	}
	if rmErr != nil {
		d.rep.Removal.Error = rmErr.Error()
		rmErr = fmt.Errorf("the drill could not remove everything it made on %s (%v); groundwork gc %s removes it once its expiry record says so (%s), or remove it by hand", o.Target.Describe(), rmErr, o.File, d.rep.Expires.Format(time.RFC3339))
	} else {
		d.rep.Removal.Done = true
		// Nothing left: the expiry record has nothing more to say.
		_ = os.RemoveAll(o.StateDir)
	}
	d.rep.TookMS = o.Now().Sub(d.start).Milliseconds()
	if err != nil {
		return d.rep, err
	}
	return d.rep, rmErr
}

type driller struct {
	o       Options
	start   time.Time
	rep     *Report
	journal *actions.Journal
	rb      Rebuild
	env     *spec.Environment
	files   map[string][]byte
	insp    Inspector
}

func (d *driller) layer(l Layer) *LayerResult {
	for i := range d.rep.Layers {
		if d.rep.Layers[i].Name == l {
			return &d.rep.Layers[i]
		}
	}
	panic("drill: no layer " + l)
}

// layers runs every layer in order, stopping at the first failure.
func (d *driller) layers(ctx context.Context) error {
	var steps map[Layer][]actions.Step
	for _, l := range Layers {
		lr := d.layer(l)
		started := d.o.Now()
		lr.StartMS = started.Sub(d.start).Milliseconds()
		lr.State = StateRunning
		err := d.run(ctx, l, &steps)
		lr.TookMS = d.o.Now().Sub(started).Milliseconds()
		if err != nil {
			lr.State, lr.Error = StateFailed, err.Error()
			return &LayerError{Layer: l, Err: err}
		}
		lr.State = StatePassed
	}
	return nil
}

func (d *driller) run(ctx context.Context, l Layer, steps *map[Layer][]actions.Step) error {
	if l == LayerCluster {
		if err := d.cluster(ctx); err != nil {
			return err
		}
		*steps = d.byLayer()
	}
	if l == LayerKeys {
		// rebuild's preflight (the key store has the keys, the
		// repository holds the environment), then, before the keys go
		// into the cluster, that they are those Git's files are for.
		if err := d.rb.Preflight(ctx); err != nil {
			return err
		}
		d.rep.Revision, d.files = d.rb.Snapshot()
		if err := d.o.Custody.Check(ctx, d.env, d.files); err != nil {
			return err
		}
		if d.o.NewInspector != nil {
			d.insp = d.o.NewInspector(d.rb.Client(), d.env, d.files)
		} else {
			d.insp = NewClusterInspector(d.rb.Client(), d.env, d.files)
		}
	}
	if err := d.steps(ctx, l, (*steps)[l]); err != nil {
		return err
	}
	if l == LayerCluster {
		if err := d.expiry(ctx); err != nil {
			return err
		}
	}
	if d.insp == nil {
		return nil
	}
	return d.await(ctx, l)
}

// cluster provides the scratch cluster and prepares rebuild's run on it
// (its preflight runs in the keys layer).
func (d *driller) cluster(ctx context.Context) error {
	if err := os.MkdirAll(d.o.StateDir, 0o700); err != nil {
		return err
	}
	j, err := actions.OpenJournal(d.o.StateDir)
	if err != nil {
		return err
	}
	d.journal = j
	// The expiry first, in the state directory: a drill killed while its
	// kind cluster is being made is found by gc there.
	expires := d.start.Add(d.o.TTL).UTC().Truncate(time.Second)
	j.SetOutput(plan.StepExpiry, "expires", expires.Format(time.RFC3339))
	j.SetOutput(plan.StepExpiry, "drill", d.o.Instance)
	if k, ok := d.o.Target.(*KindCluster); ok {
		// What gc may delete once the drill expired: only a kind
		// cluster the drill made, never a cluster it was handed.
		j.SetOutput(plan.StepExpiry, "kind_cluster", k.Name)
	}
	if err := j.Save(); err != nil {
		return err
	}
	d.rep.Expires = expires
	kubeconfig, kctx, err := d.o.Target.Provide(ctx)
	if err != nil {
		return err
	}
	env := *d.o.Env
	// Rebuild adopts the scratch cluster as it is; the environment's own
	// cluster is never named to it.
	env.Cluster = spec.Cluster{Provider: spec.ProviderExisting, Existing: &spec.ExistingCluster{Kubeconfig: kubeconfig, Context: kctx}, DeclRange: env.Cluster.DeclRange}
	env.Ephemeral = nil
	d.env = &env
	rb, err := d.o.NewRebuild(d.env, d.o.StateDir)
	if err != nil {
		return err
	}
	d.rb = rb
	rb.UseJournal(j)
	return nil
}

// byLayer sorts rebuild's steps into layers, leaving out those that
// commit.
// Commits says whether the drill leaves a rebuild step out because it
// commits.
func Commits(name string) bool { return committing[name] }

func (d *driller) byLayer() map[Layer][]actions.Step {
	out := map[Layer][]actions.Step{}
	cur := LayerCluster
	for _, s := range d.rb.RebuildSteps() {
		name := s.Plan().Name
		if committing[name] {
			d.o.Logf("not running rebuild's step %s: a drill never commits", name)
			continue
		}
		if l, ok := rebuildSteps[name]; ok {
			cur = l
		}
		out[cur] = append(out[cur], s)
	}
	return out
}

func (d *driller) steps(ctx context.Context, l Layer, steps []actions.Step) error {
	if len(steps) == 0 {
		return nil
	}
	res, err := (&actions.Runner{Command: "drill", Journal: d.journal, Reporter: d.o.Reporter, Now: d.o.Now}).Run(ctx, steps)
	lr := d.layer(l)
	if res != nil {
		for _, s := range res.Steps {
			lr.Steps = append(lr.Steps, StepResult{Name: s.Name, State: string(s.State), TookMS: s.Took.Milliseconds()})
		}
	}
	return err
}

// expiry records, in the scratch cluster, when gc may delete it, as up
// does for an ephemeral instance.
func (d *driller) expiry(ctx context.Context) error {
	rec := d.o.RecordExpiry
	if rec == nil {
		rec = writeExpiry
	}
	return rec(ctx, d.rb.Client(), d.o.Instance, d.env, d.rep.Expires)
}

// await looks at the layer's objects until every one is ready, one is
// stalled, or the environment's sync timeout passes.
func (d *driller) await(ctx context.Context, l Layer) error {
	timeout := d.env.GitOps.Sync.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	deadline := d.o.Now().Add(timeout)
	lr := d.layer(l)
	for {
		objs, err := d.insp.Look(ctx, l)
		if err != nil {
			return err
		}
		lr.Objects = objs
		var bad []Object
		stalled := false
		for _, o := range objs {
			if !o.Ready {
				bad = append(bad, o)
				stalled = stalled || o.Stalled
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if stalled || !d.o.Now().Before(deadline) {
			return &NotReadyError{Layer: l, Objects: bad, After: timeout}
		}
		select {
		case <-ctx.Done():
			return &NotReadyError{Layer: l, Objects: bad, Err: ctx.Err()}
		case <-time.After(d.o.Poll):
		}
	}
}

// NotReadyError names the objects of a layer that were not ready.
type NotReadyError struct {
	Layer   Layer
	Objects []Object
	After   time.Duration
	Err     error
}

func (e *NotReadyError) Error() string {
	var parts []string
	for _, o := range e.Objects {
		s := o.String() + ": " + o.Message
		if o.File != "" {
			s += " (declared in " + o.File + ")"
		}
		parts = append(parts, s)
	}
	when := fmt.Sprintf("after %s", e.After)
	if e.Err != nil {
		when = "when the drill was stopped"
	}
	return fmt.Sprintf("not ready %s: %s", when, strings.Join(parts, "; "))
}

func (e *NotReadyError) Unwrap() error { return e.Err }
