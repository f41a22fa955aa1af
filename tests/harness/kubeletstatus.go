package harness

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
)

// The kubelet reports on a workload's pods what a real kubelet reports
// when its program crashes: kwok set the pods Running and Ready once and
// leaves them alone afterwards (its pod-ready stage matches pods without an
// IP), so without this a crash-looping controller would look healthy to
// anything reading the cluster.

// readyAfter is how long a restarted program must stay up before its pods
// are Ready again (a stand-in for the readiness probe's first success).
const readyAfter = time.Second

// lastExit is how p's program ended, as a container's terminated state.
func lastExit(p *hostPod) *corev1.ContainerStateTerminated {
	_, err := p.proc.Exited()
	code, reason := int32(0), "Completed"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, reason = int32(ee.ExitCode()), "Error"
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int32(ws.Signal())
		}
	}
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: metav1.NewTime(p.started), FinishedAt: metav1.Now()}
}

// reportCrash: the container waits in CrashLoopBackOff, not ready.
func (k *Kubelet) reportCrash(ctx context.Context, p *hostPod, container string, backoff time.Duration) error {
	last := lastExit(p)
	k.logf(p.w.name, "kubelet: %s %s exited %d: CrashLoopBackOff for %s (restart %d)", p.w.kind, p.w.key(), last.ExitCode, backoff, p.restarts+1)
	return k.updatePods(ctx, p.w, container, false, corev1.ContainerStatus{
		RestartCount:         int32(p.restarts),
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: fmt.Sprintf("back-off %s restarting failed container=%s", backoff, container)}},
		LastTerminationState: corev1.ContainerState{Terminated: last},
	})
}

// reportRestarted: the container runs again, not ready yet.
func (k *Kubelet) reportRestarted(ctx context.Context, p *hostPod, container string, last *corev1.ContainerStateTerminated) error {
	return k.updatePods(ctx, p.w, container, false, corev1.ContainerStatus{
		RestartCount:         int32(p.restarts),
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}},
		LastTerminationState: corev1.ContainerState{Terminated: last},
	})
}

// reportReady: the restarted container has stayed up; the pods are Ready.
func (k *Kubelet) reportReady(ctx context.Context, p *hostPod, container string) error {
	return k.updatePods(ctx, p.w, container, true, corev1.ContainerStatus{
		RestartCount: int32(p.restarts),
		State:        corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}},
	})
}

// updatePods sets the named container's status (its name, image and
// readiness filled in; a terminated state carried over unless st has its
// own) and the pods' Ready conditions on every pod of w. It has a context
// of its own (the sync's is shared with starting programs), and says
// whether every pod got the status, so that the caller tries again on its
// next pass if not.
func (k *Kubelet) updatePods(ctx context.Context, w workload, container string, ready bool, st corev1.ContainerStatus) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(w.template.Labels)
	if w.selector != nil {
		s, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil {
			return err
		}
		sel = s
	}
	cs := k.cp.Client().CoreV1().Pods(w.namespace)
	pods, err := cs.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return err
	}
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	var errs []error
	for _, item := range pods.Items {
		if item.DeletionTimestamp != nil {
			continue
		}
		errs = append(errs, retry.RetryOnConflict(retry.DefaultRetry, func() error {
			pod, err := cs.Get(ctx, item.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			now := metav1.Now()
			for i, c := range pod.Status.ContainerStatuses {
				if c.Name != container {
					continue
				}
				s := st
				s.Name, s.Image, s.ImageID, s.ContainerID, s.Ready = c.Name, c.Image, c.ImageID, c.ContainerID, ready
				if s.LastTerminationState.Terminated == nil {
					s.LastTerminationState = c.LastTerminationState
				}
				started := ready || s.State.Running != nil
				s.Started = &started
				pod.Status.ContainerStatuses[i] = s
			}
			for i, c := range pod.Status.Conditions {
				if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != cond {
					pod.Status.Conditions[i].Status, pod.Status.Conditions[i].LastTransitionTime = cond, now
					pod.Status.Conditions[i].Reason, pod.Status.Conditions[i].Message = "", ""
					if !ready {
						pod.Status.Conditions[i].Reason = "ContainersNotReady"
						pod.Status.Conditions[i].Message = fmt.Sprintf("containers with unready status: [%s]", container)
					}
				}
			}
			_, err = cs.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			return err
		}))
	}
	return errors.Join(errs...)
}
