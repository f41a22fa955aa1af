package gc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/awsauth"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/down"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// Instance is an ephemeral environment gc looked at.
type Instance struct {
	Name     string    `json:"name"`
	StateDir string    `json:"state_dir,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Expired  bool      `json:"expired"`
	// Incomplete says the instance's up never finished: gc found it by the
	// record up makes before its cluster step.
	Incomplete bool `json:"incomplete,omitempty"`
	// Action is what gc did or, with DryRun, would do.
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`

	env      *spec.Environment
	noRecord bool // its cluster answered, without an expiry record
	drill    bool // a drill's leftovers, not an instance
	// untouched: its up never changed the existing cluster it was given,
	// so deleting it leaves that cluster alone.
	untouched bool
}

// recordStands says whether the state directory's record of an instance
// whose up never reached its expiry step may stand for the cluster's, and
// whether that up changed the cluster. On a cluster groundwork makes for the
// instance alone (kind, cloud) it stands when the cluster is gone or
// answered without a record: down deletes that cluster. On an existing
// cluster, up's first change is its reconciler step: an up that never
// started it (nor any later step, nor a rebuild's) left nothing there, and
// the instance goes without the cluster being touched (its state directory;
// nothing was seeded), whatever the cluster answers. One that did may have
// installed the reconciler, or upgraded one that was there before, and
// nothing in the cluster tells which: gc keeps it and says how to remove it
// (down --uninstall), never guessing.
func recordStands(env *spec.Environment, j *actions.Journal, stateDir string, noRecord bool) (stands, touched bool, why string) {
	if env.Cluster.Existing != nil {
		for name := range j.Steps {
			switch name {
			case plan.StepState, plan.StepCluster, plan.StepKubeconfig, plan.StepExpiry:
			default:
				return false, true, "its up did not finish on an existing cluster, and gc cannot tell what it installed there from what was there before"
			}
		}
		return true, false, ""
	}
	if env.Cluster.Provider != spec.ProviderKind && !env.Cluster.Remote() {
		return false, false, ""
	}
	if noRecord {
		return true, true, ""
	}
	path, _ := facts.Kubeconfig(env, stateDir)
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist), true, "" // never got a kubeconfig: the cluster step did not finish
}

// drillLeft is what a drill killed before its removal left: a kind cluster
// it made is deleted once expired; what it installed in a cluster it was
// handed is the user's to remove (gc never guesses which cluster that was).
func drillLeft(r Root, dir, name, kindCluster string, expires, now time.Time) Instance {
	in := Instance{Name: name, StateDir: dir, Expires: expires, Expired: !now.Before(expires), Incomplete: true, drill: true}
	if kindCluster == "" {
		in.Error = fmt.Sprintf("a drill into a cluster it was given (--kubeconfig) did not finish its removal: remove what it installed there (the reconciler's and the secrets controller's Helm releases and namespaces), then delete %s", dir)
		return in
	}
	env := *r.Env
	env.Name, env.Ephemeral = kindCluster, &spec.Ephemeral{}
	env.Cluster = spec.Cluster{Provider: spec.ProviderKind, Kind: r.Env.Cluster.Kind}
	in.env = &env
	return in
}

// Options say where to look and what to do.
type Options struct {
	// Envs are the environment files' environments (ephemeral ones only
	// have instances), with the state root their instances live under.
	Envs []Root
	// Environ has the repositories' tokens (token_env).
	Environ []string
	Now     func() time.Time
	DryRun  bool
	Logf    func(format string, args ...any)
	// EKS returns the EKS API of a region, for finding the instances of
	// ephemeral eks environments by their tags; nil means the default AWS
	// credential chain.
	EKS func(ctx context.Context, region string) (remote.EKSAPI, error)
	// Terraform and Module configure down's terraform destroy (tests).
	Terraform terraform.FindOptions
	Module    fs.FS
}

// Root is an environment and the folder its instances' state directories
// are in.
type Root struct {
	Env *spec.Environment
	// File is the environment file as the user named it (for advice).
	File      string
	StateRoot string
}

// Run finds the instances and deletes the expired ones.
func Run(ctx context.Context, o Options) []Instance {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	var out []Instance
	for _, r := range o.Envs {
		dirs, _ := filepath.Glob(filepath.Join(r.StateRoot, r.Env.Name+"-*"))
		sort.Strings(dirs)
		for _, dir := range dirs {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				continue
			}
			// An instance's state records its expiry (up records it
			// before its cluster step); that also tells an instance
			// from another environment whose name merely starts the
			// same.
			j, err := actions.OpenJournal(dir)
			if err != nil {
				continue
			}
			recorded, ok := plan.RecordedExpiry(j)
			if !ok {
				continue
			}
			if name := j.Outputs[plan.StepExpiry]["drill"]; name != "" {
				out = append(out, drillLeft(r, dir, name, j.Outputs[plan.StepExpiry]["kind_cluster"], recorded, o.Now()))
				continue
			}
			env := *r.Env
			if e := env.Cluster.Existing; e != nil {
				// The cluster the instance was made on, whatever the
				// file's variables say today.
				if p, ok := j.Output(plan.StepKubeconfig, "path"); ok {
					x := *e
					x.Kubeconfig = p
					env.Cluster.Existing = &x
				}
			}
			env.Ephemeral = &spec.Ephemeral{}
			if r.Env.Ephemeral != nil {
				eph := *r.Env.Ephemeral
				env.Ephemeral = &eph
			}
			if err := env.Instance(strings.TrimPrefix(filepath.Base(dir), r.Env.Name+"-")); err != nil {
				continue
			}
			in := Instance{Name: env.Name, StateDir: dir, env: &env}
			// up failed before its expiry step: its cluster holds no
			// record (or was never made).
			rec := j.Steps[plan.StepExpiry]
			unfinished := rec.State != actions.StateDone && rec.State != actions.StateSkipped
			if env.Cluster.Existing != nil && unfinished {
				if stands, touched, _ := recordStands(&env, j, dir, false); stands && !touched {
					// Its up never changed the cluster it was given:
					// nothing there to ask (an unreachable one would
					// hold gc up to its timeout for nothing).
					in.Incomplete, in.untouched = true, true
					in.Expires, in.Expired = recorded, !o.Now().Before(recorded)
					out = append(out, in)
					continue
				}
			}
			look(ctx, &in, o.Now())
			if in.Error != "" && unfinished {
				// The state directory's record stands where
				// recordStands allows (its up would have written the
				// same). A cluster that exists but cannot be deleted
				// makes down fail, and gc says so.
				stands, touched, why := recordStands(&env, j, in.StateDir, in.noRecord)
				switch {
				case stands:
					in.Error, in.Incomplete, in.untouched = "", true, !touched
					in.Expires, in.Expired = recorded, !o.Now().Before(recorded)
				case why != "" && in.noRecord:
					file := r.File
					if file == "" {
						file = "FILE"
					}
					in.Error = fmt.Sprintf("%s: remove it with groundwork down %s --name-suffix %s --uninstall --purge-repo", why, file, strings.TrimPrefix(env.Name, r.Env.Name+"-"))
				}
			}
			out = append(out, in)
		}
	}
	out = append(out, byTags(ctx, o, out)...)
	for i := range out {
		in := &out[i]
		switch {
		case in.Error != "":
			in.Action = "kept: " + in.Error
		case !in.Expired && in.Incomplete:
			in.Action = "kept: its up did not finish; expires " + in.Expires.Format(time.RFC3339)
		case !in.Expired:
			in.Action = "kept: expires " + in.Expires.Format(time.RFC3339)
		case o.DryRun:
			in.Action = "would delete"
		default:
			// A run on the instance (an up resuming it) holds its lock:
			// gc does not delete under it.
			lock, err := actions.AcquireLock(ctx, in.StateDir, fmt.Sprintf("pid %d, groundwork gc, since %s", os.Getpid(), o.Now().UTC().Format(time.RFC3339)), false)
			var le *actions.LockedError
			if errors.As(err, &le) {
				in.Error = fmt.Sprintf("a run holds its lock (%s)", le.Holder)
				in.Action = "kept: " + in.Error
				continue
			}
			if err != nil {
				in.Action, in.Error = "delete failed", err.Error()
				continue
			}
			// A drill committed nothing: its kind cluster goes, and the
			// environment's folder in the repository (the live one's)
			// stays.
			err = down.Run(ctx, down.Options{Env: in.env, StateDir: in.StateDir, Environ: o.Environ, Uninstall: !in.drill && !in.untouched, PurgeRepo: !in.drill, Logf: o.Logf,
				Terraform: o.Terraform, Module: o.Module})
			if err != nil {
				_ = lock.Release()
				in.Action, in.Error = "delete failed", err.Error()
				continue
			}
			_ = os.RemoveAll(in.StateDir)
			_ = lock.Release()
			in.Action = "deleted"
			if in.untouched {
				in.Action = "deleted (its up never changed the cluster, which was left alone)"
			}
		}
	}
	return out
}

// look reads the expiry the instance's cluster records. An instance whose
// cluster cannot be read is kept, with the reason: gc never deletes on a
// guess.
func look(ctx context.Context, in *Instance, now time.Time) {
	path, kctx := facts.Kubeconfig(in.env, in.StateDir)
	c, err := kube.Connect(path, kctx)
	if err != nil {
		in.Error = fmt.Sprintf("cannot reach its cluster: %v", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cm, err := c.Clientset.CoreV1().ConfigMaps(facts.ExpiryNamespace).Get(cctx, facts.ExpiryConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		in.Error, in.noRecord = "its cluster records no expiry (not created by up, or up did not finish)", true
		return
	case err != nil:
		in.Error = fmt.Sprintf("cannot read its expiry: %v", err)
		return
	case cm.Data["environment"] != in.Name:
		in.Error = fmt.Sprintf("its cluster records environment %q, not this one", cm.Data["environment"])
		return
	}
	t, err := time.Parse(time.RFC3339, cm.Data["expires"])
	if err != nil {
		in.Error = "its expiry is unreadable: " + cm.Data["expires"]
		return
	}
	in.Expires, in.Expired = t, !now.Before(t)
}

// byTags finds the expired instances of ephemeral eks environments by the
// tags on their clusters, skipping those the state directories found: an
// instance made by a CI runner that is gone has no state directory here.
// With its Terraform state in a shared backend (a state block), gc destroys
// it from a fresh state directory; with local state it cannot, and says so.
func byTags(ctx context.Context, o Options, seen []Instance) []Instance {
	known := map[string]bool{}
	for _, in := range seen {
		known[in.Name] = true
	}
	var out []Instance
	for _, r := range o.Envs {
		if r.Env.Cluster.EKS == nil || r.Env.Ephemeral == nil {
			continue
		}
		base := r.Env.Name
		if r.Env.Ephemeral.Base != "" {
			base = r.Env.Ephemeral.Base
		}
		region := r.Env.Cluster.EKS.Region
		newAPI := o.EKS
		if newAPI == nil {
			newAPI = defaultEKS
		}
		api, err := newAPI(ctx, region)
		if err == nil {
			var expired []remote.Expired
			if expired, err = remote.ExpiredEKS(ctx, api, base, o.Now()); err == nil {
				for _, e := range expired {
					if known[e.Environment] {
						continue
					}
					known[e.Environment] = true
					out = append(out, tagged(r, base, e))
				}
				continue
			}
		}
		o.Logf("cannot look for expired EKS clusters of %s in %s: %v", base, region, err)
	}
	return out
}

func tagged(r Root, base string, e remote.Expired) Instance {
	env := *r.Env
	eph := *r.Env.Ephemeral
	env.Ephemeral = &eph
	env.Name = base
	in := Instance{Name: e.Environment, Expires: e.Expires, Expired: true}
	if err := env.Instance(strings.TrimPrefix(e.Environment, base+"-")); err != nil {
		in.Error = fmt.Sprintf("its tags name instance %q, which is not one of %s: %v", e.Environment, base, err)
		return in
	}
	in.StateDir, in.env = filepath.Join(r.StateRoot, env.Name), &env
	if env.State == nil {
		in.Error = fmt.Sprintf("found by its tags (EKS cluster %s), but its Terraform state was local to the machine that made it; delete the cluster in the AWS console, and give %s a state block so that gc can next time", e.ClusterName, base)
	}
	return in
}

func defaultEKS(ctx context.Context, region string) (remote.EKSAPI, error) {
	cfg, err := awsauth.Config(ctx, region, "finding ephemeral EKS clusters by their tags in "+region)
	if err != nil {
		return nil, err
	}
	return eks.NewFromConfig(cfg), nil
}
