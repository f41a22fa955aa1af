package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cmdutil"
	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/status"
)

// TestWriteNotifications: one line per target, marked ✗ when its last
// delivery failed or the reconciler lacks it, then what the reconciler
// records at all.
func TestWriteNotifications(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := &status.Notifications{Records: "notification-controller records failed deliveries only", Targets: []status.Delivery{
		{Target: "ops", Type: "slack", State: status.DeliveryFailed, At: at, Detail: "failed to send notification: POST https://hooks.slack.com/<redacted> giving up"},
		{Target: "pager", Type: "webhook", State: status.DeliveryNoFailure, At: at, About: "Kustomization/groundwork-apps: ReconciliationFailed"},
		{Target: "audit", Type: "webhook", State: status.DeliveryNotApplied, Detail: "Alert flux-system/groundwork-audit is not in the cluster"},
	}}
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	var b bytes.Buffer
	writeNotifications(&b, n, mark)
	want := `✗ notify      ops (slack): last delivery failed at 2026-03-01 12:00:00Z: failed to send notification: POST https://hooks.slack.com/<redacted> giving up
✓ notify      pager (webhook): no failure recorded for the last event it covers, Kustomization/groundwork-apps: ReconciliationFailed at 2026-03-01 12:00:00Z
✗ notify      audit (webhook): Alert flux-system/groundwork-audit is not in the cluster
    notification-controller records failed deliveries only.
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeNotifications(&b, &status.Notifications{Error: "events: forbidden"}, mark)
	if !strings.HasPrefix(b.String(), "✗ notify      events: forbidden") {
		t.Fatalf("error: %q", b.String())
	}
}

const stsUnreachable = `operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 0, request send failed, Post "https://sts.eu-west-1.amazonaws.com/": dial tcp: lookup sts.eu-west-1.amazonaws.com: i/o timeout`

// unreachableStore is what status.Collect reports when External Secrets
// Operator cannot reach Secrets Manager through the store.
func unreachableStore() *status.ExternalSecretsStatus {
	return &status.ExternalSecretsStatus{
		Store: status.SecretStore{Kind: "ClusterSecretStore", Name: "aws-secrets-manager", Region: "eu-west-1", State: status.StoreNotReady,
			Reason: "InvalidProviderConfig", Message: "unable to validate store", Detail: stsUnreachable,
			Hint: "check the region (eu-west-1) of external_store \"aws-secrets-manager\", ..., and that the cluster can reach Secrets Manager and STS in eu-west-1"},
		Total: 2, Ready: 1,
		NotReady: []status.ExternalSecret{{Namespace: "shop", Name: "db", Stores: []string{"ClusterSecretStore aws-secrets-manager"},
			Reason: "SecretSyncedError", Message: "could not get secret data from provider", Detail: `ClusterSecretStore "aws-secrets-manager" is not ready`,
			StoreNotReady: true, Hint: "it reads ClusterSecretStore aws-secrets-manager, which is not ready: fix the store first"}},
	}
}

func healthyExceptSecrets(x *status.ExternalSecretsStatus) Document {
	r := &status.Report{Environment: "prod", ExternalSecrets: x}
	r.Cluster.Reachable, r.Cluster.Server, r.Cluster.KubernetesVersion = true, "https://127.0.0.1:6443", "v1.35.0"
	r.Reconciler.Installed, r.Reconciler.WorkloadsOK, r.Reconciler.Chart, r.Reconciler.WantsVersion = true, true, "flux2 2.17.0", "2.17.0"
	r.Reconciler.Release, r.Reconciler.Revision, r.Reconciler.Status = "flux-system/flux", 1, "deployed"
	r.Sync.Engine, r.Sync.EngineName, r.Sync.InSync, r.Sync.Revision = "flux", "Flux", true, "main@sha1:abc"
	r.Healthy = x.OK
	return Document{FormatVersion: "1", Report: r}
}

// custodyMismatch is a running environment whose key store cannot
// decrypt what Git holds.
func custodyMismatch() Document {
	d := healthyExceptSecrets(&status.ExternalSecretsStatus{OK: true})
	d.ExternalSecrets = nil
	d.SetCustody(&custody.Report{State: custody.StateMismatch})
	return d
}

// TestExternalSecretsUnreachableStore: the text says the store is not
// ready with the operator's error and what to check, and points the
// ExternalSecret that reads it at it; the JSON has the same under
// external_secrets; the environment is not healthy.
func TestExternalSecretsUnreachableStore(t *testing.T) {
	d := healthyExceptSecrets(unreachableStore())
	var b bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: &b}, Globals: &cmdutil.GlobalOptions{}}
	writeText(f, d)
	want := `✓ cluster     https://127.0.0.1:6443 answers, Kubernetes v1.35.0
✓ reconciler  chart flux2 2.17.0, release flux-system/flux revision 1 (deployed)
✓ sync        0/0 Flux objects ready at main@sha1:abc
✗ secrets     ClusterSecretStore aws-secrets-manager is not ready (InvalidProviderConfig: unable to validate store): ` + stsUnreachable + `
    check the region (eu-west-1) of external_store "aws-secrets-manager", ..., and that the cluster can reach Secrets Manager and STS in eu-west-1
✗ secrets     1/2 ExternalSecrets ready (all namespaces)
    shop/db (ClusterSecretStore aws-secrets-manager): SecretSyncedError: could not get secret data from provider: ClusterSecretStore "aws-secrets-manager" is not ready; it reads ClusterSecretStore aws-secrets-manager, which is not ready: fix the store first
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if !storeProblemOnly(d.Report) {
		t.Error("groundwork up would be suggested for a store it cannot fix")
	}

	b.Reset()
	if err := f.WriteJSON(d); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Healthy         bool `json:"healthy"`
		ExternalSecrets struct {
			OK    bool `json:"ok"`
			Store struct {
				State, Reason, Detail, Hint string
			} `json:"store"`
			Total, Ready int
			NotReady     []struct {
				Namespace, Name string
				StoreNotReady   bool `json:"store_not_ready"`
			} `json:"not_ready"`
		} `json:"external_secrets"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	x := doc.ExternalSecrets
	if doc.Healthy || x.OK || x.Store.State != "not-ready" || x.Store.Reason != "InvalidProviderConfig" || x.Store.Detail != stsUnreachable ||
		!strings.Contains(x.Store.Hint, "reach Secrets Manager") || x.Total != 2 || x.Ready != 1 || len(x.NotReady) != 1 || !x.NotReady[0].StoreNotReady {
		t.Errorf("JSON: %s", b.String())
	}
}

// TestWriteExternalSecrets: a ready store with its counts; the CRDs not
// served (one line, no count); the store missing; many not ready.
func TestWriteExternalSecrets(t *testing.T) {
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	for _, c := range []struct {
		name string
		x    status.ExternalSecretsStatus
		want string
	}{
		{"ready", status.ExternalSecretsStatus{OK: true, Total: 3, Ready: 3,
			Store: status.SecretStore{Kind: "ClusterSecretStore", Name: "aws-secrets-manager", State: status.StoreReady, Reason: "Valid", Message: "store validated"}},
			"✓ secrets     ClusterSecretStore aws-secrets-manager is ready (Valid: store validated)\n✓ secrets     3/3 ExternalSecrets ready (all namespaces)\n"},
		{"not served", status.ExternalSecretsStatus{
			Store: status.SecretStore{Kind: "ClusterSecretStore", Name: "aws-secrets-manager", State: status.StoreNotServed, Detail: "the cluster does not serve external-secrets.io/v1 clustersecretstores and externalsecrets: ...; run groundwork up"}},
			"✗ secrets     the cluster does not serve external-secrets.io/v1 clustersecretstores and externalsecrets: ...; run groundwork up\n"},
		{"missing", status.ExternalSecretsStatus{
			Store: status.SecretStore{Kind: "ClusterSecretStore", Name: "aws-secrets-manager", State: status.StoreMissing, Detail: "ClusterSecretStore aws-secrets-manager is not in the cluster", Hint: "run groundwork up"}},
			"✗ secrets     ClusterSecretStore aws-secrets-manager is not in the cluster\n    run groundwork up\n✓ secrets     0/0 ExternalSecrets ready (all namespaces)\n"},
		{"list error", status.ExternalSecretsStatus{Error: "list ExternalSecrets: forbidden",
			Store: status.SecretStore{Kind: "ClusterSecretStore", Name: "aws-secrets-manager", State: status.StoreReady, Reason: "Valid"}},
			"✓ secrets     ClusterSecretStore aws-secrets-manager is ready (Valid)\n✗ secrets     list ExternalSecrets: forbidden\n"},
	} {
		var b bytes.Buffer
		writeExternalSecrets(&b, &c.x, mark)
		if b.String() != c.want {
			t.Errorf("%s: got:\n%s\nwant:\n%s", c.name, b.String(), c.want)
		}
	}

	x := unreachableStore()
	x.NotReady = nil
	for i := range maxListed + 2 {
		x.NotReady = append(x.NotReady, status.ExternalSecret{Namespace: "ns", Name: fmt.Sprint(i)})
	}
	x.Omitted = 5
	var b bytes.Buffer
	writeExternalSecrets(&b, x, mark)
	if !strings.HasSuffix(b.String(), "    ns/9: no Ready condition yet\n    and 7 more not ready (--output json lists them)\n") {
		t.Errorf("cut:\n%s", b.String())
	}
}

// TestAdvice: what status advises for an unhealthy environment: up for one
// never brought up (nothing recorded, nothing installed), not up for an
// adopted cluster that does not answer (up cannot start it), nor for an
// unreachable secrets store; up otherwise.
func TestAdvice(t *testing.T) {
	env := func(provider string) *spec.Environment {
		return &spec.Environment{Name: "prod", Cluster: spec.Cluster{Provider: provider}}
	}
	down := func(run bool) Document {
		r := &status.Report{Environment: "prod"}
		r.Cluster.Error = "cluster https://10.0.0.1:6443 does not answer"
		d := Document{FormatVersion: "1", Report: r}
		if run {
			d.LastRun = &actions.Run{Started: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
		}
		return d
	}
	cases := []struct {
		name string
		doc  Document
		env  *spec.Environment
		want string
	}{
		{"never brought up", down(false), env(spec.ProviderKind), "Environment prod has not been brought up (no run of groundwork recorded in /state): groundwork up prod.hcl creates it."},
		{"adopted cluster down", down(true), env(spec.ProviderExisting), "its cluster does not answer, and groundwork cannot start a cluster it adopted; check the cluster is running"},
		{"adopted cluster down, brought up elsewhere", down(false), env(spec.ProviderExisting), "its cluster does not answer, and groundwork cannot start a cluster it adopted"},
		{"kind cluster down", down(true), env(spec.ProviderKind), "Environment prod is not healthy; groundwork up prod.hcl converges it."},
		{"store unreachable", healthyExceptSecrets(unreachableStore()), env(spec.ProviderExisting), "External Secrets cannot sync"},
		{"key custody", custodyMismatch(), env(spec.ProviderKind), "runs, but Git and its key store do not agree (see the custody lines above)"},
	}
	for _, c := range cases {
		if got := advice(c.doc, c.env, "prod.hcl", "/state"); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
