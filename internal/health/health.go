package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Status is the readiness of one workload.
type Status struct {
	Kind, Namespace, Name string
	Ready                 bool
	// Summary is like "0/1 replicas ready".
	Summary string
	// Reasons are what keeps it from being ready, most telling first.
	Reasons []string
}

func (s Status) String() string {
	out := fmt.Sprintf("%s %s/%s: %s", s.Kind, s.Namespace, s.Name, s.Summary)
	for _, r := range s.Reasons {
		out += "\n    " + r
	}
	return out
}

// NotReadyError lists the workloads that are not ready.
type NotReadyError struct{ Objects []Status }

func (e *NotReadyError) Error() string {
	parts := make([]string, len(e.Objects))
	for i, s := range e.Objects {
		parts[i] = s.String()
	}
	return "not ready:\n  " + strings.Join(parts, "\n  ")
}

type ref struct{ Kind, Namespace, Name string }

// Workloads parses manifests (multi-document YAML) and returns the
// workloads in them; objects without a namespace get defaultNamespace.
func Workloads(manifest, defaultNamespace string) ([]ref, error) {
	var out []ref
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var obj struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, err
		}
		switch obj.Kind {
		case "Deployment", "StatefulSet", "DaemonSet":
			ns := obj.Metadata.Namespace
			if ns == "" {
				ns = defaultNamespace
			}
			out = append(out, ref{obj.Kind, ns, obj.Metadata.Name})
		}
	}
}

// Check returns the status of every workload in the manifest, and a
// *NotReadyError when some are not ready.
func Check(ctx context.Context, cs kubernetes.Interface, manifest, defaultNamespace string) ([]Status, error) {
	refs, err := Workloads(manifest, defaultNamespace)
	if err != nil {
		return nil, err
	}
	var all, bad []Status
	for _, r := range refs {
		s := status(ctx, cs, r)
		all = append(all, s)
		if !s.Ready {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		return all, &NotReadyError{Objects: bad}
	}
	return all, nil
}

// Namespace returns the status of every Deployment, StatefulSet and
// DaemonSet in namespace that is not ready (an engine's controllers: one
// crash-looping is why nothing applies), each judged on what the listing
// read.
func Namespace(ctx context.Context, cs kubernetes.Interface, namespace string) ([]Status, error) {
	type listed struct {
		r   ref
		obj any
	}
	var all []listed
	ds, err := cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range ds.Items {
		all = append(all, listed{ref{"Deployment", namespace, ds.Items[i].Name}, &ds.Items[i]})
	}
	ss, err := cs.AppsV1().StatefulSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range ss.Items {
		all = append(all, listed{ref{"StatefulSet", namespace, ss.Items[i].Name}, &ss.Items[i]})
	}
	dss, err := cs.AppsV1().DaemonSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range dss.Items {
		all = append(all, listed{ref{"DaemonSet", namespace, dss.Items[i].Name}, &dss.Items[i]})
	}
	var bad []Status
	for i, l := range all {
		s := statusOf(ctx, cs, l.r, l.obj)
		if ctx.Err() != nil {
			// What was being read when time ran out is not known to be
			// unready: it is not listed.
			return bad, fmt.Errorf("%d of the %d workloads in %s were not looked at: %w", len(all)-i, len(all), namespace, ctx.Err())
		}
		if !s.Ready {
			bad = append(bad, s)
		}
	}
	return bad, nil
}

// status reads one workload and says whether it is ready.
func status(ctx context.Context, cs kubernetes.Interface, r ref) Status {
	var obj any
	var err error
	switch r.Kind {
	case "Deployment":
		obj, err = cs.AppsV1().Deployments(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	case "StatefulSet":
		obj, err = cs.AppsV1().StatefulSets(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	case "DaemonSet":
		obj, err = cs.AppsV1().DaemonSets(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	}
	if err != nil {
		return Status{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Summary: "cannot be read: " + err.Error()}
	}
	return statusOf(ctx, cs, r, obj)
}

// statusOf says whether a workload already read is ready, and if not why
// (its conditions, events and pods).
func statusOf(ctx context.Context, cs kubernetes.Interface, r ref, obj any) Status {
	s := Status{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
	var selector *metav1.LabelSelector
	var uid string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		want := int32(1)
		if o.Spec.Replicas != nil {
			want = *o.Spec.Replicas
		}
		s.Ready = o.Status.ReadyReplicas >= want && o.Status.UpdatedReplicas >= want && o.Status.ObservedGeneration >= o.Generation
		s.Summary = fmt.Sprintf("%d/%d replicas ready", o.Status.ReadyReplicas, want)
		for _, c := range o.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				s.Reasons = append(s.Reasons, fmt.Sprintf("condition %s: %s: %s", c.Type, c.Reason, c.Message))
			}
		}
		selector, uid = o.Spec.Selector, string(o.UID)
	case *appsv1.StatefulSet:
		want := int32(1)
		if o.Spec.Replicas != nil {
			want = *o.Spec.Replicas
		}
		s.Ready = o.Status.ReadyReplicas >= want
		s.Summary = fmt.Sprintf("%d/%d replicas ready", o.Status.ReadyReplicas, want)
		selector, uid = o.Spec.Selector, string(o.UID)
	case *appsv1.DaemonSet:
		s.Ready = o.Status.NumberReady >= o.Status.DesiredNumberScheduled
		s.Summary = fmt.Sprintf("%d/%d pods ready", o.Status.NumberReady, o.Status.DesiredNumberScheduled)
		selector, uid = o.Spec.Selector, string(o.UID)
	}
	if s.Ready {
		return s
	}
	s.Reasons = append(s.Reasons, events(ctx, cs, r.Namespace, uid)...)
	if selector != nil {
		s.Reasons = append(s.Reasons, podReasons(ctx, cs, r.Namespace, selector)...)
	}
	return s
}

func podReasons(ctx context.Context, cs kubernetes.Interface, ns string, sel *metav1.LabelSelector) []string {
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ls.String()})
	if err != nil {
		return []string{"pods cannot be listed: " + err.Error()}
	}
	if len(pods.Items) == 0 {
		return []string{"no pods exist for it yet"}
	}
	var out []string
	for _, p := range pods.Items {
		var why []string
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && (c.Reason != "" || c.Message != "") {
				why = append(why, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, joinNonEmpty(": ", c.Reason, c.Message)))
			}
		}
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			switch {
			case c.State.Waiting != nil:
				why = append(why, fmt.Sprintf("container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
			case c.State.Terminated != nil && c.State.Terminated.ExitCode != 0:
				why = append(why, fmt.Sprintf("container %s exited %d: %s", c.Name, c.State.Terminated.ExitCode, c.State.Terminated.Reason))
			}
			if last := c.LastTerminationState.Terminated; c.RestartCount > 0 && last != nil {
				why = append(why, fmt.Sprintf("container %s restarted %d times, last exit %d (%s)", c.Name, c.RestartCount, last.ExitCode, last.Reason))
			}
		}
		why = append(why, events(ctx, cs, ns, string(p.UID))...)
		if len(why) > 0 {
			out = append(out, fmt.Sprintf("pod %s (%s): %s", p.Name, p.Status.Phase, strings.Join(why, "; ")))
		}
	}
	return out
}

// events returns the latest warning events of an object, newest first.
func events(ctx context.Context, cs kubernetes.Interface, ns, uid string) []string {
	if uid == "" {
		return nil
	}
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.uid", uid), fields.OneTermEqualSelector("type", corev1.EventTypeWarning)).String(),
	})
	if err != nil || len(list.Items) == 0 {
		return nil
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return lastSeen(items[i]).After(lastSeen(items[j]).Time) })
	var out []string
	for i, e := range items {
		if i == 3 {
			break
		}
		out = append(out, fmt.Sprintf("event %s: %s", e.Reason, strings.TrimSpace(e.Message)))
	}
	return out
}

func lastSeen(e corev1.Event) metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.EventTime.IsZero() {
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.CreationTimestamp
}

// joinNonEmpty joins the parts that are not empty.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
