package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// What status can say of groundwork's ClusterSecretStore.
const (
	// StoreReady: the operator validated the store (Ready=True).
	StoreReady = "ready"
	// StoreNotReady: the operator could not build a client for the
	// provider or validate it (Ready=False, reason InvalidProviderConfig
	// or ValidationFailed): wrong region or role, no credentials, or
	// Secrets Manager (or STS) out of reach.
	StoreNotReady = "not-ready"
	// StoreUnknown: Ready=Unknown (ESO does not set it itself).
	StoreUnknown = "unknown"
	// StoreNotReconciled: the store has no Ready condition yet; the
	// operator has not looked at it (not running, or just started).
	StoreNotReconciled = "not-reconciled"
	// StoreMissing: the cluster serves the CRD but has no such store.
	StoreMissing = "missing"
	// StoreNotServed: the cluster does not serve external-secrets.io/v1
	// (the operator, or its CRDs, are not installed).
	StoreNotServed = "not-served"
)

// The Ready condition's reasons External Secrets Operator sets (its
// apis/externalsecrets/v1, the same in v0.20 and v1.x).
const (
	reasonValidationUnknown     = "ValidationUnknown"
	reasonSecretSyncedError     = "SecretSyncedError"
	clusterSecretStoreKind      = "ClusterSecretStore"
	secretStoreKind             = "SecretStore"
	externalSecretsGroupVersion = "external-secrets.io/v1"
)

var (
	clusterSecretStoreResource = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "clustersecretstores"}
	externalSecretResource     = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
)

// maxNotReady bounds the not-ready ExternalSecrets a report lists in full;
// beyond it they are counted only (a store that cannot be reached fails
// them all, and they all say the same).
const maxNotReady = 50

// ExternalSecretsStatus is what the cluster says of External Secrets:
// groundwork's ClusterSecretStore and the ExternalSecrets of every
// namespace.
type ExternalSecretsStatus struct {
	Store SecretStore `json:"store"`
	// Total and Ready count the ExternalSecrets in all namespaces,
	// whichever store they read.
	Total int `json:"total"`
	Ready int `json:"ready"`
	// NotReady are the ExternalSecrets that are not Ready, sorted by
	// namespace and name (at most maxNotReady; Omitted counts the rest).
	NotReady []ExternalSecret `json:"not_ready"`
	Omitted  int              `json:"omitted,omitempty"`
	// OK is true when the store is Ready and so is every ExternalSecret.
	OK bool `json:"ok"`
	// Error says what could not be read.
	Error string `json:"error,omitempty"`
}

// SecretStore is groundwork's ClusterSecretStore as the operator sees it.
type SecretStore struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
	State  string `json:"state"`
	// Reason and Message come from the Ready condition (ESO's message is
	// short, like "unable to validate store").
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Detail is what went wrong: the provider's error from the operator's
	// newest Warning Event on the store, or what is missing.
	Detail string `json:"detail,omitempty"`
	// Hint says what to do about it.
	Hint string `json:"hint,omitempty"`
}

// OK reports whether the store serves secrets.
func (s SecretStore) OK() bool { return s.State == StoreReady }

// ExternalSecret is one ExternalSecret that is not Ready.
type ExternalSecret struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Stores are the stores it reads, like "ClusterSecretStore
	// aws-secrets-manager" or "SecretStore shop/vault".
	Stores []string `json:"stores,omitempty"`
	// Reason and Message come from the Ready condition (empty: the
	// operator has not reconciled it yet).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Detail is the operator's newest Warning Event on it (the error
	// behind SecretSyncedError).
	Detail string `json:"detail,omitempty"`
	// StoreNotReady is true when it reads groundwork's store and that
	// store is not Ready: the store is the problem to fix.
	StoreNotReady bool   `json:"store_not_ready,omitempty"`
	Hint          string `json:"hint,omitempty"`
}

// NotServedError says the cluster does not serve the External Secrets API
// groundwork applies.
type NotServedError struct {
	GroupVersion string
	// Missing are the resources the group version lacks (all of them when
	// it is not served at all).
	Missing []string
	// Served are the versions of the group the cluster does serve.
	Served []string
	// Namespace and Chart say where groundwork installs the operator.
	Namespace, Chart string
}

func (e *NotServedError) Error() string {
	if len(e.Served) > 0 {
		return fmt.Sprintf("the cluster serves external-secrets.io only as %s, not %s: External Secrets Operator in namespace %s is older than v0.17 (the spec wants chart %s); run groundwork up to upgrade it",
			strings.Join(e.Served, ", "), e.GroupVersion, e.Namespace, e.Chart)
	}
	return fmt.Sprintf("the cluster does not serve %s %s: External Secrets Operator (chart %s, namespace %s) or its CRDs are not installed; run groundwork up",
		e.GroupVersion, strings.Join(e.Missing, " and "), e.Chart, e.Namespace)
}

// externalSecrets reads groundwork's ClusterSecretStore and the
// ExternalSecrets of all namespaces. It uses the client's Clientset and
// Dynamic only (no REST mapping), so that a missing CRD is told apart from
// a missing object through discovery.
func externalSecrets(ctx context.Context, c *kube.Client, env *spec.Environment) *ExternalSecretsStatus {
	x := &ExternalSecretsStatus{NotReady: []ExternalSecret{}}
	x.Store = SecretStore{Kind: clusterSecretStoreKind, Name: facts.ClusterSecretStore}
	if es := env.Secrets.ExternalStore; es != nil {
		x.Store.Region = es.Region
	}
	if err := served(ctx, c, env); err != nil {
		var ns *NotServedError
		if errors.As(err, &ns) {
			x.Store.State, x.Store.Detail = StoreNotServed, ns.Error()
			x.Store.Hint = "run groundwork up: it installs External Secrets Operator with its CRDs, then applies the store"
		} else {
			x.Error = err.Error()
		}
		return x
	}
	store, err := c.Dynamic.Resource(clusterSecretStoreResource).Get(ctx, facts.ClusterSecretStore, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		store = nil
	case err != nil:
		x.Error = fmt.Sprintf("read ClusterSecretStore %s: %v", facts.ClusterSecretStore, err)
		return x
	}
	readStore(ctx, c, env, &x.Store, store)

	list, err := c.Dynamic.Resource(externalSecretResource).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		x.Error = fmt.Sprintf("list ExternalSecrets: %v", err)
		return x
	}
	summarise(ctx, c, env, x, list.Items)
	x.OK = x.Error == "" && x.Store.OK() && x.Ready == x.Total
	return x
}

// served checks, through discovery, that the cluster serves the
// ClusterSecretStore and ExternalSecret of external-secrets.io/v1; a
// *NotServedError when it does not.
func served(ctx context.Context, c *kube.Client, env *spec.Environment) error {
	d := c.Clientset.Discovery()
	notServed := &NotServedError{GroupVersion: externalSecretsGroupVersion, Namespace: env.Secrets.Namespace, Chart: env.Secrets.Chart.Name + " " + env.Secrets.Version}
	list, err := d.ServerResourcesForGroupVersionWithContext(ctx, externalSecretsGroupVersion)
	switch {
	case apierrors.IsNotFound(err):
		notServed.Missing = []string{"clustersecretstores", "externalsecrets"}
		if groups, gerr := d.ServerGroupsWithContext(ctx); gerr == nil {
			for _, g := range groups.Groups {
				if g.Name != clusterSecretStoreResource.Group {
					continue
				}
				for _, v := range g.Versions {
					notServed.Served = append(notServed.Served, v.Version)
				}
			}
		}
		return notServed
	case err != nil:
		return fmt.Errorf("discover %s: %w", externalSecretsGroupVersion, err)
	}
	have := map[string]bool{}
	for _, r := range list.APIResources {
		have[r.Name] = true
	}
	for _, r := range []string{clusterSecretStoreResource.Resource, externalSecretResource.Resource} {
		if !have[r] {
			notServed.Missing = append(notServed.Missing, r)
		}
	}
	if len(notServed.Missing) > 0 {
		return notServed
	}
	return nil
}

// readStore fills s from the store (nil when there is none).
func readStore(ctx context.Context, c *kube.Client, env *spec.Environment, s *SecretStore, store *unstructured.Unstructured) {
	if store == nil {
		s.State = StoreMissing
		s.Detail = fmt.Sprintf("ClusterSecretStore %s is not in the cluster", facts.ClusterSecretStore)
		s.Hint = "run groundwork up: it applies the store after installing External Secrets Operator"
		return
	}
	if r, ok, _ := unstructured.NestedString(store.Object, "spec", "provider", "aws", "region"); ok && r != "" {
		s.Region = r
	}
	cond, found := readyCondition(store)
	if !found {
		s.State = StoreNotReconciled
		s.Detail = "External Secrets Operator has not validated it yet (no Ready condition)"
		s.Hint = operatorHint(ctx, c, env)
		return
	}
	s.Reason, s.Message = cond.Reason, cond.Message
	switch cond.Status {
	case string(corev1.ConditionTrue):
		s.State = StoreReady
		if cond.Reason == reasonValidationUnknown {
			s.Hint = "the operator could not validate the store up front; whether it works shows in the ExternalSecrets that read it"
		}
		return
	case string(corev1.ConditionFalse):
		s.State = StoreNotReady
	default:
		s.State = StoreUnknown
	}
	s.Detail = newestWarning(ctx, c, clusterSecretStoreKind, facts.ClusterSecretStore, cond.Reason)
	s.Hint = storeHint(env, s.Region)
}

// storeHint says what to check when the operator cannot reach or
// authenticate to Secrets Manager through the store.
func storeHint(env *spec.Environment, region string) string {
	x := env.Secrets.ExternalStore
	if region == "" && x != nil {
		region = x.Region
	}
	who := fmt.Sprintf("that External Secrets Operator's ServiceAccount (namespace %s) has AWS credentials (IRSA or EKS Pod Identity)", env.Secrets.Namespace)
	if x != nil && x.RoleARN != "" {
		who = fmt.Sprintf("the role %s and that External Secrets Operator's ServiceAccount (namespace %s) may assume it", x.RoleARN, env.Secrets.Namespace)
	}
	return fmt.Sprintf("check the region (%s) of external_store %q, %s, and that the cluster can reach Secrets Manager and STS in %s; kubectl describe clustersecretstore %s shows the operator's events",
		region, facts.ClusterSecretStore, who, region, facts.ClusterSecretStore)
}

// operatorHint says why the operator may not have reconciled anything:
// its Deployments that are not ready, if any.
func operatorHint(ctx context.Context, c *kube.Client, env *spec.Environment) string {
	ns := env.Secrets.Namespace
	deps, err := c.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Sprintf("check that External Secrets Operator runs: kubectl -n %s get pods", ns)
	}
	var down []string
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ReadyReplicas < want {
			down = append(down, fmt.Sprintf("Deployment %s/%s has %d/%d ready replicas", ns, d.Name, d.Status.ReadyReplicas, want))
		}
	}
	switch {
	case len(deps.Items) == 0:
		return fmt.Sprintf("External Secrets Operator has no Deployment in namespace %s: run groundwork up", ns)
	case len(down) > 0:
		return strings.Join(down, "; ") + fmt.Sprintf(": kubectl -n %s describe pods says why", ns)
	}
	return fmt.Sprintf("the operator's Deployments are ready; if this lasts, kubectl -n %s logs deploy/%s says why", ns, env.Secrets.Chart.Name)
}

// summarise counts the ExternalSecrets and explains those not Ready.
func summarise(ctx context.Context, c *kube.Client, env *spec.Environment, x *ExternalSecretsStatus, items []unstructured.Unstructured) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
	ours := clusterSecretStoreKind + " " + facts.ClusterSecretStore
	var warnings map[string]string
	for i := range items {
		o := &items[i]
		x.Total++
		cond, found := readyCondition(o)
		if found && cond.Status == string(corev1.ConditionTrue) {
			x.Ready++
			continue
		}
		if len(x.NotReady) >= maxNotReady {
			x.Omitted++
			continue
		}
		if warnings == nil {
			warnings = externalSecretWarnings(ctx, c)
		}
		e := ExternalSecret{Namespace: o.GetNamespace(), Name: o.GetName(), Stores: storeRefs(o), Reason: cond.Reason, Message: cond.Message}
		e.Detail = warnings[e.Namespace+"/"+e.Name]
		usesOurs := slices.Contains(e.Stores, ours)
		switch {
		case usesOurs && !x.Store.OK():
			e.StoreNotReady = true
			e.Hint = fmt.Sprintf("it reads ClusterSecretStore %s, which is not ready: fix the store first", facts.ClusterSecretStore)
		case strings.Contains(e.Detail, fmt.Sprintf("%q is not ready", facts.ClusterSecretStore)):
			e.StoreNotReady = true
			e.Hint = fmt.Sprintf("the operator found ClusterSecretStore %s not ready when it last tried; it retries", facts.ClusterSecretStore)
		case !found:
			e.Hint = fmt.Sprintf("External Secrets Operator has not reconciled it yet; check it runs: kubectl -n %s get pods", env.Secrets.Namespace)
		case cond.Reason == reasonSecretSyncedError && notFoundInProvider(e.Detail):
			e.Hint = fmt.Sprintf("a key it reads is not in Secrets Manager (region %s): check the remoteRef keys", x.Store.Region)
		default:
			e.Hint = fmt.Sprintf("kubectl -n %s describe externalsecret %s shows the operator's events", e.Namespace, e.Name)
		}
		x.NotReady = append(x.NotReady, e)
	}
}

// notFoundInProvider tells a missing key from other provider errors (AWS's
// ResourceNotFoundException, ESO's NoSecretError).
func notFoundInProvider(detail string) bool {
	return strings.Contains(detail, "ResourceNotFoundException") || strings.Contains(detail, "can't find the specified secret") || strings.Contains(detail, "Secret does not exist")
}

// storeRefs lists the stores an ExternalSecret reads: its secretStoreRef
// and the storeRefs of its data and dataFrom sources, each once.
func storeRefs(o *unstructured.Unstructured) []string {
	var out []string
	add := func(ref map[string]any) {
		name, _, _ := unstructured.NestedString(ref, "name")
		if name == "" {
			return
		}
		kind, _, _ := unstructured.NestedString(ref, "kind")
		var s string
		if kind == clusterSecretStoreKind {
			s = clusterSecretStoreKind + " " + name
		} else {
			s = secretStoreKind + " " + o.GetNamespace() + "/" + name
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if ref, ok, _ := unstructured.NestedMap(o.Object, "spec", "secretStoreRef"); ok {
		add(ref)
	}
	for _, field := range []string{"data", "dataFrom"} {
		items, _, _ := unstructured.NestedSlice(o.Object, "spec", field)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			if ref, ok, _ := unstructured.NestedMap(m, "sourceRef", "storeRef"); ok {
				add(ref)
			}
		}
	}
	return out
}

// condition is the Ready condition of an External Secrets object.
type condition struct{ Status, Reason, Message string }

func readyCondition(o *unstructured.Unstructured) (condition, bool) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		s, _ := m["status"].(string)
		r, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return condition{Status: s, Reason: r, Message: strings.TrimSpace(msg)}, true
	}
	return condition{}, false
}

// newestWarning is the message of the newest Warning Event on a
// cluster-scoped object with the given reason, or failing that of any
// reason but the operator's maintenance notices ("" when none is recorded,
// or Events cannot be read). Event recorders put cluster-scoped objects'
// Events in the default namespace; all namespaces are searched all the
// same.
func newestWarning(ctx context.Context, c *kube.Client, kind, name, reason string) string {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "type": corev1.EventTypeWarning}
	evs, err := c.Clientset.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return ""
	}
	var newest, newestOfReason *corev1.Event
	for i := range evs.Items {
		e := &evs.Items[i]
		if e.Type != corev1.EventTypeWarning || e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name ||
			e.Reason == "StoreUnmaintained" || e.Reason == "StoreDeprecated" {
			continue
		}
		if newest == nil || kube.EventTime(e).After(kube.EventTime(newest)) {
			newest = e
		}
		if e.Reason == reason && (newestOfReason == nil || kube.EventTime(e).After(kube.EventTime(newestOfReason))) {
			newestOfReason = e
		}
	}
	if newestOfReason != nil {
		newest = newestOfReason
	}
	if newest == nil {
		return ""
	}
	return strings.TrimSpace(newest.Message)
}

// externalSecretWarnings maps namespace/name to the newest Warning Event
// of each ExternalSecret, read in one list.
func externalSecretWarnings(ctx context.Context, c *kube.Client) map[string]string {
	sel := fields.Set{"involvedObject.kind": "ExternalSecret", "type": corev1.EventTypeWarning}
	evs, err := c.Clientset.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	out := map[string]string{}
	if err != nil {
		return out
	}
	at := map[string]time.Time{}
	for i := range evs.Items {
		e := &evs.Items[i]
		o := e.InvolvedObject
		if e.Type != corev1.EventTypeWarning || o.Kind != "ExternalSecret" {
			continue
		}
		k := o.Namespace + "/" + o.Name
		if t := kube.EventTime(e); at[k].IsZero() || t.After(at[k]) {
			at[k], out[k] = t, strings.TrimSpace(e.Message)
		}
	}
	return out
}
