package status

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/failure"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/status"
)

// Options are status's inputs.
type Options struct {
	F    *cmdutil.Factory
	File string
}

// Document is status's JSON output.
type Document struct {
	FormatVersion string `json:"format_version"`
	*status.Report
	LastRun *actions.Run `json:"last_run,omitempty"`
	Seeded  string       `json:"seeded_revision,omitempty"`
	// Error is the failure when the environment is not healthy.
	Error *failure.Doc `json:"error,omitempty"`
}

// NewCmdStatus returns the status command; runF replaces the behaviour in
// tests of flag parsing.
func NewCmdStatus(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	return &cobra.Command{
		Use:   "status FILE",
		Short: "Show whether an environment's cluster is reachable, healthy and in sync",
		Long: `Show whether the cluster answers and which Kubernetes it runs, the reconciler's
Helm release and whether its workloads are ready, the revision Flux fetched from
the repository and whether every Kustomization applied it (with Argo CD: whether
every Application is Synced and Healthy), and what is not ready and why. status changes nothing. It exits 0 when the environment is
healthy and in sync, 1 otherwise.

With a notifications block it also shows, per target, what the reconciler
recorded of its last delivery: with Flux, failed deliveries (Warning Events on
the target's Alert; a delivery that worked leaves no trace, so status says
whether a failure was recorded after the last event the Alert covers); with
Argo CD, the deliveries it records on the Applications (failed ones are only in
its log). A failing webhook does not make the environment unhealthy. URLs in
the reconciler's messages are cut to their host.

With secrets provider "external-secrets" it also shows whether External
Secrets Operator validated the ClusterSecretStore aws-secrets-manager (when it
cannot reach or authenticate to Secrets Manager: its error and what to check),
and how many ExternalSecrets, in all namespaces, are Ready, with why the others
are not. A store or an ExternalSecret that is not ready makes the environment
unhealthy.

It also checks key custody, reading the repository's branch head and the key
store as this machine reaches them: with SOPS, that .sops.yaml's recipients
include the key store's age key and every SOPS file decrypts with it; with
Sealed Secrets, that every SealedSecret unseals with a stored sealing key. A
mismatch (named file by file, with the recipient Git has) makes the environment
unhealthy: a rebuild would not decrypt it. A check that cannot run here (no key
on this machine) is shown and does not.`,
		Example: `  groundwork status environments/local.hcl
  groundwork status environments/local.hcl --output json`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
}

// Run shows the status.
func Run(ctx context.Context, opts *Options) error {
	f := opts.F
	env, err := f.LoadInstance(opts.File)
	if err != nil {
		return err
	}
	stateDir := f.StateDir(env)
	doc := Document{FormatVersion: "1", Report: status.Collect(ctx, env, stateDir)}
	// Whether a rebuild could decrypt what Git holds: the repository
	// and the key store as this machine reaches them.
	cust, _ := custody.CheckEnvironment(ctx, env, f.Environ())
	doc.SetCustody(cust)
	if j, err := actions.OpenJournal(stateDir); err == nil && !j.Run.Started.IsZero() {
		doc.LastRun = &j.Run
		doc.Seeded, _ = j.Output(plan.StepSeed, "revision")
	}
	var fail error
	if !doc.Healthy {
		fail = &cmdutil.ExitError{Code: cmdutil.ExitFailure, Reported: true, Err: fmt.Errorf("environment %s is not healthy", env.Name)}
		doc.Error = cmdutil.ErrorDoc(fail)
	}
	if f.Globals.JSON() {
		if err := f.WriteJSON(doc); err != nil {
			return err
		}
	} else {
		writeText(f, doc)
	}
	if !doc.Healthy {
		fmt.Fprintln(f.IO.ErrOut, advice(doc, env, opts.File, stateDir))
		return fail
	}
	return nil
}

// advice is what status says of an unhealthy environment: what to do, as
// far as groundwork can tell.
func advice(doc Document, env *spec.Environment, file, stateDir string) string {
	c, rec := doc.Cluster, doc.Reconciler
	switch {
	case !c.Reachable && env.Cluster.Provider == spec.ProviderExisting:
		// up adopts the cluster as it is: it cannot start it (nor tell,
		// from here, whether it was ever brought up: from CI, say).
		return fmt.Sprintf("Environment %s is not healthy: its cluster does not answer, and groundwork cannot start a cluster it adopted; check the cluster is running and the kubeconfig is current, then groundwork up %s.", env.Name, file)
	case doc.LastRun == nil && (!c.Reachable || !rec.Installed):
		// Nothing recorded here, nothing installed there: not an
		// environment that broke, one that was never made (from here).
		return fmt.Sprintf("Environment %s has not been brought up (no run of groundwork recorded in %s): groundwork up %s creates it.", env.Name, stateDir, file)
	case doc.CustodyMismatch() && custodyProblemOnly(doc.Report):
		// up does not bring a lost key back.
		return fmt.Sprintf("Environment %s runs, but Git and its key store do not agree (see the custody lines above): a rebuild from them would not decrypt its secrets.", env.Name)
	case doc.ExternalSecrets != nil && !doc.ExternalSecrets.OK && storeProblemOnly(doc.Report):
		// groundwork up cannot make Secrets Manager reachable.
		return fmt.Sprintf("Environment %s is not healthy: External Secrets cannot sync (see the secrets lines above).", env.Name)
	}
	return fmt.Sprintf("Environment %s is not healthy; groundwork up %s converges it.", env.Name, file)
}

// custodyProblemOnly reports whether all that is wrong is the key-custody
// mismatch.
func custodyProblemOnly(r *status.Report) bool {
	c, rec := r.Cluster, r.Reconciler
	return c.Reachable && rec.Installed && rec.WorkloadsOK && r.Sync.InSync && (r.ExternalSecrets == nil || r.ExternalSecrets.OK)
}

// storeProblemOnly reports whether all that is wrong is External Secrets
// failing to sync with its store in place (not missing, not uninstalled),
// which groundwork up does not fix.
func storeProblemOnly(r *status.Report) bool {
	c, rec, x := r.Cluster, r.Reconciler, r.ExternalSecrets
	if !c.Reachable || !rec.Installed || !rec.WorkloadsOK || !r.Sync.InSync {
		return false
	}
	return x.Error == "" && x.Store.State != status.StoreMissing && x.Store.State != status.StoreNotServed
}

func writeText(f *cmdutil.Factory, d Document) {
	w := f.IO.Out
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	c := d.Cluster
	if c.Reachable {
		fmt.Fprintf(w, "%s cluster     %s answers, Kubernetes %s\n", mark(true), c.Server, c.KubernetesVersion)
	} else {
		fmt.Fprintf(w, "%s cluster     %s\n", mark(false), c.Error)
	}
	if c.Reachable {
		r := d.Reconciler
		switch {
		case !r.Installed:
			fmt.Fprintf(w, "%s reconciler  Helm release %s is not installed; run groundwork up\n", mark(false), r.Release)
		default:
			fmt.Fprintf(w, "%s reconciler  chart %s, release %s revision %d (%s)", mark(r.WorkloadsOK), r.Chart, r.Release, r.Revision, r.Status)
			if !strings.HasSuffix(r.Chart, " "+r.WantsVersion) {
				fmt.Fprintf(w, "; the spec wants chart version %s", r.WantsVersion)
			}
			fmt.Fprintln(w)
			for _, n := range r.NotReady {
				fmt.Fprintf(w, "    %s\n", n)
			}
		}
		s := d.Sync
		if s.Error != "" {
			fmt.Fprintf(w, "%s sync        %s\n", mark(false), s.Error)
		} else {
			ready := 0
			for _, o := range s.Objects {
				if o.Ready {
					ready++
				}
			}
			fmt.Fprintf(w, "%s sync        %d/%d %s objects ready at %s\n", mark(s.InSync), ready, len(s.Objects), s.EngineName, orNone(s.Revision))
			for _, o := range s.Objects {
				if !o.Ready {
					fmt.Fprintf(w, "    %s\n", o)
				}
			}
		}
	}
	if x := d.ExternalSecrets; x != nil && c.Reachable {
		writeExternalSecrets(w, x, mark)
	}
	if n := d.Notifications; n != nil && c.Reachable {
		writeNotifications(w, n, mark)
	}
	if d.Custody != nil {
		writeCustody(w, d.Custody, mark)
	}
	if d.LastRun != nil {
		outcome := d.LastRun.Outcome
		if outcome == "" {
			outcome = "did not finish"
		}
		fmt.Fprintf(w, "  last run    %s %s at %s", d.LastRun.Command, outcome, d.LastRun.Started.Format("2006-01-02 15:04:05Z07:00"))
		if d.Seeded != "" {
			fmt.Fprintf(w, ", seeded %s", d.Seeded)
		}
		fmt.Fprintln(w)
	}
}

// writeNotifications says, per notification target, what the reconciler
// recorded of its last delivery, and what it records at all.
func writeNotifications(w io.Writer, n *status.Notifications, mark func(bool) string) {
	if n.Error != "" {
		fmt.Fprintf(w, "%s notify      %s\n", mark(false), n.Error)
		return
	}
	const at = "2006-01-02 15:04:05Z07:00"
	for _, t := range n.Targets {
		var text string
		switch t.State {
		case status.DeliveryFailed:
			text = "last delivery failed at " + t.At.Format(at) + ": " + t.Detail
		case status.DeliveryNoFailure:
			text = "no failure recorded for the last event it covers, " + t.About + " at " + t.At.Format(at)
		case status.DeliveryDelivered:
			text = "delivered at " + t.At.Format(at) + " (" + t.About + ")"
		case status.DeliveryNone:
			text = "no delivery recorded"
		default:
			text = t.Detail
		}
		if t.Detail != "" && (t.State == status.DeliveryNoFailure || t.State == status.DeliveryNone) {
			text += " (" + t.Detail + ")"
		}
		fmt.Fprintf(w, "%s notify      %s (%s): %s\n", mark(t.OK()), t.Target, t.Type, text)
	}
	fmt.Fprintf(w, "    %s.\n", n.Records)
}

// maxListed bounds the not-ready ExternalSecrets listed as text; JSON has
// all the report holds.
const maxListed = 10

// writeExternalSecrets says whether groundwork's ClusterSecretStore is
// ready, and if not why and what to check, then how many ExternalSecrets
// are Ready and why the others are not.
func writeExternalSecrets(w io.Writer, x *status.ExternalSecretsStatus, mark func(bool) string) {
	st := x.Store
	store := st.Kind + " " + st.Name
	var text string
	switch st.State {
	case status.StoreReady:
		text = store + " is ready" + parens(st.Reason, st.Message)
	case status.StoreNotReady:
		text = store + " is not ready" + parens(st.Reason, st.Message)
	case status.StoreUnknown:
		text = store + " is in an unknown state" + parens(st.Reason, st.Message)
	case status.StoreNotReconciled:
		text = store + " is not validated yet"
	case status.StoreMissing, status.StoreNotServed:
		text = ""
	}
	if st.Detail != "" {
		if text != "" {
			text += ": "
		}
		text += st.Detail
	}
	if text != "" {
		fmt.Fprintf(w, "%s secrets     %s\n", mark(st.OK()), text)
		if st.Hint != "" {
			fmt.Fprintf(w, "    %s\n", st.Hint)
		}
	}
	if x.Error != "" {
		fmt.Fprintf(w, "%s secrets     %s\n", mark(false), x.Error)
		return
	}
	if st.State == status.StoreNotServed {
		return
	}
	fmt.Fprintf(w, "%s secrets     %d/%d ExternalSecrets ready (all namespaces)\n", mark(x.Ready == x.Total), x.Ready, x.Total)
	for i, e := range x.NotReady {
		if i == maxListed {
			fmt.Fprintf(w, "    and %d more not ready (--output json lists them)\n", len(x.NotReady)-maxListed+x.Omitted)
			return
		}
		line := e.Namespace + "/" + e.Name
		if len(e.Stores) > 0 {
			line += " (" + strings.Join(e.Stores, ", ") + ")"
		}
		if e.Reason == "" && e.Message == "" {
			line += ": no Ready condition yet"
		} else {
			line += ": " + strings.TrimPrefix(e.Reason+": "+e.Message, ": ")
		}
		if e.Detail != "" {
			line += ": " + e.Detail
		}
		if e.Hint != "" {
			line += "; " + e.Hint
		}
		fmt.Fprintf(w, "    %s\n", line)
	}
	if x.Omitted > 0 && len(x.NotReady) <= maxListed {
		fmt.Fprintf(w, "    and %d more not ready\n", x.Omitted)
	}
}

// parens is " (reason: message)", or less when they are empty.
func parens(reason, message string) string {
	switch {
	case reason != "" && message != "":
		return " (" + reason + ": " + message + ")"
	case reason != "" || message != "":
		return " (" + reason + message + ")"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(nothing fetched yet)"
	}
	return s
}

// writeCustody says whether Git and the key store agree: one line, and on
// a mismatch every file named with what it is encrypted for, and the fix.
func writeCustody(w io.Writer, c *custody.Report, mark func(bool) string) {
	m := mark(c.State != custody.StateMismatch)
	if c.State == custody.StateUnchecked {
		m = "?"
	}
	fmt.Fprintf(w, "%s custody     %s\n", m, c.Summary)
	if c.State != custody.StateMismatch {
		return
	}
	lines := strings.Split(c.Error, "\n")
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "    %s\n", strings.TrimSpace(l))
	}
}
