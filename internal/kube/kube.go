package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/faults"
)

// FieldManager is groundwork's name in managedFields.
const FieldManager = "groundwork"

// Client talks to one cluster.
type Client struct {
	// Kubeconfig and Context say where the client came from (Helm needs
	// them again).
	Kubeconfig, Context string
	Config              *rest.Config
	Clientset           kubernetes.Interface
	Dynamic             dynamic.Interface
	mapper              meta.ResettableRESTMapper
}

// UnreachableError says the cluster did not answer.
type UnreachableError struct {
	Kubeconfig, Context, Server string
	Err                         error
}

func (e *UnreachableError) Error() string {
	ctx := e.Context
	if ctx == "" {
		ctx = "(current context)"
	}
	return fmt.Sprintf("cluster %s (context %s in %s) does not answer: %v; check the cluster is running and the kubeconfig is current", e.Server, ctx, e.Kubeconfig, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// KubeconfigError is a kubeconfig groundwork cannot use: the file is not
// there, or the context it is asked for is not in it.
type KubeconfigError struct {
	Path, Context string
	// Missing says the file itself is not there; NoContext that it has
	// not the context asked for.
	Missing, NoContext bool
	// Contexts are the contexts the file has (when it could be read).
	Contexts []string
	Err      error
}

func (e *KubeconfigError) Error() string {
	switch {
	case e.Missing:
		return fmt.Sprintf("kubeconfig %s does not exist: give the path of the cluster's kubeconfig file (the environment's kubeconfig, or --var), or create it first (kind get kubeconfig, aws eks update-kubeconfig, gcloud container clusters get-credentials, az aks get-credentials)", e.Path)
	case e.NoContext && len(e.Contexts) > 0:
		return fmt.Sprintf("kubeconfig %s has no context %q; it has: %s", e.Path, e.Context, strings.Join(e.Contexts, ", "))
	case e.NoContext:
		return fmt.Sprintf("kubeconfig %s has no context %q, and no context at all", e.Path, e.Context)
	case e.Context == "" && len(e.Contexts) > 0 && clientcmd.IsEmptyConfig(e.Err):
		return fmt.Sprintf("kubeconfig %s: %v; name one of its contexts (%s) in the environment's context", e.Path, e.Err, strings.Join(e.Contexts, ", "))
	}
	return fmt.Sprintf("kubeconfig %s: %v", e.Path, e.Err)
}

func (e *KubeconfigError) Unwrap() error { return e.Err }

// Connect builds a client from a kubeconfig file and context ("" for the
// file's current context). It does not contact the cluster. A file that is
// not there, or has not the context, is a *KubeconfigError.
func Connect(kubeconfig, kubeContext string) (*Client, error) {
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, &KubeconfigError{Path: kubeconfig, Context: kubeContext, Missing: errors.Is(err, fs.ErrNotExist), Err: err}
	}
	loader := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	raw, err := loader.Load()
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfig, Context: kubeContext, Err: err}
	}
	contexts := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		contexts = append(contexts, name)
	}
	sort.Strings(contexts)
	if _, ok := raw.Contexts[kubeContext]; kubeContext != "" && !ok {
		return nil, &KubeconfigError{Path: kubeconfig, Context: kubeContext, Contexts: contexts, NoContext: true, Err: errors.New("no such context")}
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, kubeContext, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}, loader)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, &KubeconfigError{Path: kubeconfig, Context: kubeContext, Contexts: contexts, Err: err}
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		Kubeconfig: kubeconfig, Context: kubeContext, Config: cfg, Clientset: cs, Dynamic: dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}, nil
}

// ServerVersion asks the cluster its version; an *UnreachableError when it
// does not answer.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	// The discovery client has no context parameter; bound it through
	// the REST client instead.
	var v struct{ GitVersion string }
	body, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err == nil {
		err = yaml.Unmarshal(body, &v)
	}
	if err != nil {
		return "", &UnreachableError{Kubeconfig: c.Kubeconfig, Context: c.Context, Server: c.Config.Host, Err: err}
	}
	return v.GitVersion, nil
}

// Decode splits multi-document YAML into objects, skipping empty documents.
func Decode(manifest []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// Resource finds the API resource of a kind, refreshing discovery once when
// the kind is new (CRDs installed a moment ago).
func (c *Client) Resource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(namespace), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Apply applies obj with server-side apply as groundwork, taking over
// fields other managers set, and reports whether the object changed.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured) (changed bool, err error) {
	ri, err := c.Resource(obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return false, err
	}
	var before *unstructured.Unstructured
	cur, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		before = cur
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("read %s: %w", Describe(obj), err)
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return false, err
	}
	force := true
	after, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", Describe(obj), err)
	}
	if before == nil || after.GetResourceVersion() == before.GetResourceVersion() {
		return before == nil, nil
	}
	// A new resourceVersion from ownership alone (another manager had
	// applied the same values) is no change to the object.
	return !reflect.DeepEqual(content(before), content(after)), nil
}

// content is an object without what the API server keeps about it.
func content(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy()
	for _, f := range [][]string{{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"}, {"status"}} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	return c.Object
}

// ApplyAll applies objects in order and reports whether any changed.
func (c *Client) ApplyAll(ctx context.Context, objs []*unstructured.Unstructured) (changed bool, err error) {
	for _, o := range objs {
		ch, err := c.Apply(ctx, o)
		if err != nil {
			return changed, err
		}
		changed = changed || ch
		faults.Point("kube:applied")
	}
	return changed, nil
}

// Describe names an object like "GitRepository flux-system/flux-system".
func Describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}

// New is a client over the given clients and REST mapper (tests give
// fakes; Connect makes the real ones).
func New(cs kubernetes.Interface, dyn dynamic.Interface, mapper meta.ResettableRESTMapper) *Client {
	return &Client{Clientset: cs, Dynamic: dyn, mapper: mapper}
}

// EventTime is when an Event last happened, whichever API wrote it.
func EventTime(e *corev1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

// Transient tells whether an API error may go away on its own: no HTTP
// status (a connection refused or reset: the API server restarting),
// throttling, or a server error other than 501. A context's end and a kind
// the API server does not serve are not.
func Transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || meta.IsNoMatchError(err) {
		return false // the run was stopped; the kind is not served (its CRD is missing)
	}
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return true
	}
	code := se.Status().Code
	return code == 0 || code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented
}
