package status

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

func esoEnv() *spec.Environment {
	return &spec.Environment{Name: "prod", GitOps: spec.GitOps{Engine: spec.EngineFlux, Namespace: "flux-system"}, Secrets: spec.Secrets{
		Provider:      spec.SecretsExternalSecrets,
		ExternalStore: &spec.ExternalStore{Type: "aws-secrets-manager", Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/eso"},
		Chart:         spec.Chart{Name: "external-secrets"}, Version: spec.DefaultExternalSecretsChartVersion, Namespace: "external-secrets",
	}}
}

// esoCluster is an in-memory cluster: the discovery of the given External
// Secrets versions (none: the CRDs are not installed), the dynamic objects
// (stores, ExternalSecrets) and the typed ones (Events, Deployments).
func esoCluster(t *testing.T, versions []string, dyn []runtime.Object, typed ...runtime.Object) *kube.Client {
	t.Helper()
	cs := fake.NewSimpleClientset(typed...)
	d := cs.Discovery().(*fakediscovery.FakeDiscovery)
	for _, v := range versions {
		d.Resources = append(d.Resources, &metav1.APIResourceList{GroupVersion: "external-secrets.io/" + v, APIResources: []metav1.APIResource{
			{Name: "clustersecretstores", Kind: "ClusterSecretStore"},
			{Name: "externalsecrets", Kind: "ExternalSecret", Namespaced: true},
		}})
	}
	lists := map[schema.GroupVersionResource]string{
		clusterSecretStoreResource: "ClusterSecretStoreList",
		externalSecretResource:     "ExternalSecretList",
	}
	return &kube.Client{Clientset: cs, Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, dyn...)}
}

func ready(status, reason, msg string) []any {
	return []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg, "lastTransitionTime": "2026-03-01T12:00:00Z"}}
}

func store(conds []any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
		"metadata": map[string]any{"name": facts.ClusterSecretStore}}}
	if conds != nil {
		u.Object["status"] = map[string]any{"conditions": conds}
	}
	return u
}

func externalSecret(ns, name, storeKind, storeName string, conds []any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{
			"secretStoreRef": map[string]any{"kind": storeKind, "name": storeName},
			"data":           []any{map[string]any{"secretKey": "password", "remoteRef": map[string]any{"key": "prod/" + name}}},
		},
	}}
	if conds != nil {
		u.Object["status"] = map[string]any{"conditions": conds}
	}
	return u
}

func warning(ns, kind, name, reason, msg string, at time.Time) *corev1.Event {
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name + "." + reason + at.Format("150405"), CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: msg,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
	}
	if kind == "ExternalSecret" {
		e.InvolvedObject.Namespace = ns
	}
	return e
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const stsUnreachable = `operation error STS: AssumeRoleWithWebIdentity, exceeded maximum number of attempts, 3, https response error StatusCode: 0, RequestID: , request send failed, Post "https://sts.eu-west-1.amazonaws.com/": dial tcp: lookup sts.eu-west-1.amazonaws.com: i/o timeout`

// TestExternalSecretsStoreUnreachable: ESO marks the store Ready=False
// with a short message and puts the provider's error in a Warning Event
// (in the default namespace, the store being cluster-scoped). status
// reports the store not ready with that error and what to check, is not
// OK, and points the ExternalSecrets that read the store at it.
func TestExternalSecretsStoreUnreachable(t *testing.T) {
	c := esoCluster(t, []string{"v1"},
		[]runtime.Object{
			store(ready("False", "InvalidProviderConfig", "unable to validate store")),
			externalSecret("shop", "db", "ClusterSecretStore", facts.ClusterSecretStore, ready("False", "SecretSyncedError", "could not get secret data from provider")),
			externalSecret("shop", "api-key", "ClusterSecretStore", facts.ClusterSecretStore, ready("True", "SecretSynced", "secret synced")),
			externalSecret("billing", "stripe", "SecretStore", "vault", ready("False", "SecretSyncedError", "could not get secret data from provider")),
			externalSecret("billing", "fresh", "ClusterSecretStore", facts.ClusterSecretStore, nil),
		},
		warning("default", "ClusterSecretStore", facts.ClusterSecretStore, "InvalidProviderConfig", "an older failure", t0),
		warning("default", "ClusterSecretStore", facts.ClusterSecretStore, "InvalidProviderConfig", stsUnreachable, t0.Add(time.Minute)),
		warning("default", "ClusterSecretStore", facts.ClusterSecretStore, "StoreUnmaintained", "store isn't currently maintained", t0.Add(2*time.Minute)),
		warning("default", "ClusterSecretStore", "someone-elses", "InvalidProviderConfig", "not ours", t0.Add(3*time.Minute)),
		warning("shop", "ExternalSecret", "db", "UpdateFailed", `ClusterSecretStore "aws-secrets-manager" is not ready`, t0.Add(time.Minute)),
		warning("billing", "ExternalSecret", "stripe", "UpdateFailed", "ResourceNotFoundException: Secrets Manager can't find the specified secret.", t0.Add(time.Minute)),
	)
	x := externalSecrets(context.Background(), c, esoEnv())
	s := x.Store
	if s.State != StoreNotReady || s.OK() || s.Reason != "InvalidProviderConfig" || s.Message != "unable to validate store" {
		t.Fatalf("store: %+v", s)
	}
	if s.Detail != stsUnreachable {
		t.Errorf("detail is not the newest Warning Event: %q", s.Detail)
	}
	for _, want := range []string{"eu-west-1", "arn:aws:iam::123456789012:role/eso", "reach Secrets Manager"} {
		if !strings.Contains(s.Hint, want) {
			t.Errorf("hint lacks %q: %s", want, s.Hint)
		}
	}
	if x.OK || x.Error != "" || x.Total != 4 || x.Ready != 1 || len(x.NotReady) != 3 {
		t.Fatalf("summary: ok %v error %q %d/%d %+v", x.OK, x.Error, x.Ready, x.Total, x.NotReady)
	}
	// Sorted by namespace and name.
	fresh, stripe, db := x.NotReady[0], x.NotReady[1], x.NotReady[2]
	if db.Name != "db" || !db.StoreNotReady || db.Detail != `ClusterSecretStore "aws-secrets-manager" is not ready` ||
		!strings.Contains(db.Hint, "fix the store first") || len(db.Stores) != 1 || db.Stores[0] != "ClusterSecretStore aws-secrets-manager" {
		t.Errorf("db: %+v", db)
	}
	if fresh.Name != "fresh" || !fresh.StoreNotReady || fresh.Reason != "" {
		t.Errorf("fresh (no conditions yet, reads the broken store): %+v", fresh)
	}
	if stripe.Name != "stripe" || stripe.StoreNotReady || stripe.Stores[0] != "SecretStore billing/vault" || !strings.Contains(stripe.Hint, "not in Secrets Manager") {
		t.Errorf("stripe (its own store, a missing key): %+v", stripe)
	}

	r := &Report{ExternalSecrets: x}
	r.Cluster.Reachable, r.Reconciler.Installed, r.Reconciler.WorkloadsOK, r.Sync.InSync = true, true, true, true
	if r.healthy() {
		t.Error("healthy with the store not ready")
	}
}

// TestExternalSecretsReady: a validated store and synced ExternalSecrets
// are OK, with the counts; an environment otherwise healthy stays so.
func TestExternalSecretsReady(t *testing.T) {
	c := esoCluster(t, []string{"v1beta1", "v1"}, []runtime.Object{
		store(ready("True", "Valid", "store validated")),
		externalSecret("shop", "db", "ClusterSecretStore", facts.ClusterSecretStore, ready("True", "SecretSynced", "secret synced")),
		externalSecret("shop", "api-key", "ClusterSecretStore", facts.ClusterSecretStore, ready("True", "SecretSynced", "secret synced")),
	}, warning("default", "ClusterSecretStore", facts.ClusterSecretStore, "InvalidProviderConfig", "old failure", t0))
	x := externalSecrets(context.Background(), c, esoEnv())
	if !x.OK || x.Store.State != StoreReady || x.Store.Detail != "" || x.Store.Hint != "" || x.Total != 2 || x.Ready != 2 || len(x.NotReady) != 0 || x.Error != "" {
		t.Fatalf("%+v", x)
	}
	r := &Report{ExternalSecrets: x}
	r.Cluster.Reachable, r.Reconciler.Installed, r.Reconciler.WorkloadsOK, r.Sync.InSync = true, true, true, true
	if !r.healthy() {
		t.Error("not healthy")
	}
	r.ExternalSecrets = nil
	if !r.healthy() {
		t.Error("not healthy without External Secrets")
	}
}

// TestExternalSecretsNotServed: without the CRDs (operator not installed)
// status says so, typed, instead of a "no matches for kind" error; a
// cluster with an older operator (v1beta1 only) is told apart.
func TestExternalSecretsNotServed(t *testing.T) {
	x := externalSecrets(context.Background(), esoCluster(t, nil, nil), esoEnv())
	if x.OK || x.Error != "" || x.Store.State != StoreNotServed {
		t.Fatalf("%+v", x)
	}
	want := "the cluster does not serve external-secrets.io/v1 clustersecretstores and externalsecrets: External Secrets Operator (chart external-secrets " + spec.DefaultExternalSecretsChartVersion + ", namespace external-secrets) or its CRDs are not installed; run groundwork up"
	if x.Store.Detail != want {
		t.Errorf("got  %s\nwant %s", x.Store.Detail, want)
	}
	if strings.Contains(x.Store.Detail, "no matches") {
		t.Error("raw mapper error")
	}

	c := esoCluster(t, nil, nil)
	cs := c.Clientset.Discovery().(*fakediscovery.FakeDiscovery)
	cs.Resources = []*metav1.APIResourceList{{GroupVersion: "external-secrets.io/v1beta1", APIResources: []metav1.APIResource{{Name: "clustersecretstores"}}}}
	// FakeDiscovery answers ServerGroups from its Resources.
	x = externalSecrets(context.Background(), c, esoEnv())
	if x.Store.State != StoreNotServed || !strings.Contains(x.Store.Detail, "only as v1beta1") || !strings.Contains(x.Store.Detail, "upgrade") {
		t.Errorf("older operator: %+v", x.Store)
	}
}

// TestExternalSecretsStoreMissingOrNotReconciled: the store absent, and
// the store not validated yet with the operator's Deployment not ready,
// are each said with what to do.
func TestExternalSecretsStoreMissingOrNotReconciled(t *testing.T) {
	x := externalSecrets(context.Background(), esoCluster(t, []string{"v1"}, nil), esoEnv())
	if x.OK || x.Store.State != StoreMissing || !strings.Contains(x.Store.Hint, "groundwork up") || x.Total != 0 {
		t.Errorf("missing: %+v", x)
	}

	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "external-secrets", Name: "external-secrets"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	x = externalSecrets(context.Background(), esoCluster(t, []string{"v1"}, []runtime.Object{store(nil)}, dep), esoEnv())
	if x.OK || x.Store.State != StoreNotReconciled || !strings.Contains(x.Store.Hint, "Deployment external-secrets/external-secrets has 0/1 ready replicas") {
		t.Errorf("not reconciled: %+v", x.Store)
	}

	x = externalSecrets(context.Background(), esoCluster(t, []string{"v1"}, []runtime.Object{store(ready("Unknown", "", ""))}), esoEnv())
	if x.OK || x.Store.State != StoreUnknown {
		t.Errorf("unknown: %+v", x.Store)
	}
}

// TestStoreRefs: the secretStoreRef and the data/dataFrom sources' stores,
// each once; a SecretStore is named with the ExternalSecret's namespace
// (kind defaults to SecretStore).
func TestStoreRefs(t *testing.T) {
	u := externalSecret("shop", "db", "", "vault", nil)
	spec := u.Object["spec"].(map[string]any)
	spec["dataFrom"] = []any{
		map[string]any{"sourceRef": map[string]any{"storeRef": map[string]any{"kind": "ClusterSecretStore", "name": facts.ClusterSecretStore}}},
		map[string]any{"sourceRef": map[string]any{"storeRef": map[string]any{"name": "vault"}}},
		map[string]any{"sourceRef": map[string]any{"generatorRef": map[string]any{"kind": "Password", "name": "pw"}}},
	}
	got := strings.Join(storeRefs(u), ", ")
	if want := "SecretStore shop/vault, ClusterSecretStore aws-secrets-manager"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
