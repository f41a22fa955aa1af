package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// JobRunner runs the command of a Job's pod on the host, if it can: it
// returns false to leave the pod to the control plane, which completes it
// at once (as kwok's pod-complete stage would); when it returns true it
// must call ControlPlane.FinishJobPod once the command has exited.
type JobRunner func(pod *corev1.Pod) bool

// RunJobsWith makes runner the first to see every Job pod (the host kubelet
// registers itself).
func (cp *ControlPlane) RunJobsWith(runner JobRunner) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.jobRunner = runner
}

// completeJobs completes the Running pods of Jobs: those a JobRunner takes
// when it finishes them, the others at once.
func (cp *ControlPlane) completeJobs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
		pods, err := cp.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || !ownedByJob(pod) {
				continue
			}
			cp.mu.Lock()
			runner, claimed := cp.jobRunner, cp.jobPods[pod.UID]
			cp.mu.Unlock()
			if claimed {
				continue
			}
			if runner != nil && runner(pod) {
				cp.mu.Lock()
				if cp.jobPods == nil {
					cp.jobPods = map[types.UID]bool{}
				}
				cp.jobPods[pod.UID] = true
				cp.mu.Unlock()
				continue
			}
			_ = cp.FinishJobPod(ctx, pod.Namespace, pod.Name, 0)
		}
	}
}

func ownedByJob(pod *corev1.Pod) bool {
	for _, o := range pod.OwnerReferences {
		if o.Kind == "Job" {
			return true
		}
	}
	return false
}

// FinishJobPod records that the pod's containers exited with exitCode:
// Succeeded for 0, Failed otherwise, as a kubelet reports it.
func (cp *ControlPlane) FinishJobPod(ctx context.Context, namespace, name string, exitCode int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := cp.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		phase, reason := corev1.PodSucceeded, "Completed"
		if exitCode != 0 {
			phase, reason = corev1.PodFailed, "Error"
		}
		pod.Status.Phase = phase
		pod.Status.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, StartedAt: now, FinishedAt: now}},
			})
		}
		for i, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				pod.Status.Conditions[i].Status = corev1.ConditionFalse
				pod.Status.Conditions[i].Reason = "PodCompleted"
				pod.Status.Conditions[i].LastTransitionTime = now
			}
		}
		_, err = cp.client.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

var (
	kwokStagesOnce sync.Once
	kwokStages     string
	kwokStagesErr  error
)

// kwokPodStages are kwok's default ("fast") pod stages but pod-complete, as
// the kwok module the harness builds has them.
func kwokPodStages() (string, error) {
	kwokStagesOnce.Do(func() {
		c, err := componentFor("kwok")
		if err != nil {
			kwokStagesErr = err
			return
		}
		dir, err := ModuleDir(c.Name, "sigs.k8s.io/kwok", c.Version)
		if err != nil {
			kwokStagesErr = err
			return
		}
		var b strings.Builder
		for _, f := range []string{"pod-ready.yaml", "pod-delete.yaml"} {
			data, err := os.ReadFile(filepath.Join(dir, "kustomize", "stage", "pod", "fast", f))
			if err != nil {
				kwokStagesErr = err
				return
			}
			b.WriteString("---\n")
			b.Write(data)
			if !strings.HasSuffix(b.String(), "\n") {
				b.WriteString("\n")
			}
		}
		kwokStages = b.String()
	})
	return kwokStages, kwokStagesErr
}

// runJob runs the command of a Job's pod when its image has a host program
// (the JobRunner the kubelet registers) and records its exit code.
func (k *Kubelet) runJob(pod *corev1.Pod) bool {
	w := workload{kind: "Job", namespace: pod.Namespace, name: pod.Name, uid: pod.UID,
		template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: pod.Labels}, Spec: pod.Spec}}
	var c corev1.Container
	var prog program
	found := false
	var images []string
	for _, ct := range pod.Spec.Containers {
		if p, ok := programFor(ct.Image); ok {
			c, prog, found = ct, p, true
			break
		}
		images = append(images, ct.Image)
	}
	if !found {
		k.sayOnce("job/"+string(pod.UID), "jobs", "kubelet: Job pod %s/%s (%s): no binary runs its command; completed at once", pod.Namespace, pod.Name, strings.Join(images, ", "))
		return false
	}
	k.jobs.Add(1)
	go func() {
		defer k.jobs.Done()
		k.mu.Lock()
		base := k.rollCtx
		k.mu.Unlock()
		ctx, cancel := context.WithTimeout(base, 5*time.Minute)
		defer cancel()
		p, err := k.start(ctx, w, c, prog)
		code := int32(0)
		if err != nil {
			k.logf(w.name, "kubelet: cannot run Job pod %s: %v", w.key(), err)
			code = 1
		} else {
			select {
			case <-p.proc.done:
			case <-ctx.Done():
				p.proc.Stop(10 * time.Second)
			}
			if exited, err := p.proc.Exited(); !exited || err != nil {
				code = 1
				if ee, ok := err.(interface{ ExitCode() int }); ok && ee.ExitCode() > 0 {
					code = int32(ee.ExitCode())
				}
			}
		}
		k.logf("jobs", "kubelet: Job pod %s/%s ran %s: exit %d (log %s.log)", pod.Namespace, pod.Name, c.Image, code, w.name)
		fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer fcancel()
		if err := k.cp.FinishJobPod(fctx, pod.Namespace, pod.Name, code); err != nil {
			k.logf("jobs", "kubelet: recording the end of Job pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	}()
	return true
}
