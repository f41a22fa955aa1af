package helm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/groundwork-dev/groundwork/internal/faults"
	gwkube "github.com/groundwork-dev/groundwork/internal/kube"
)

// WaitPoll is how often groundwork's Helm client looks at what a release
// waits for. Helm's own client looks every 2 seconds, which costs each wait
// a second on average (and every wait of an install: its CRDs, its hooks'
// deletions, its workloads); on a rebuild that is recovery time.
const WaitPoll = 250 * time.Millisecond

// transientFor is how long a resource may answer nothing but transient
// errors (an API server restarting, throttling) before the wait gives up:
// Helm's client allows 30 in a row at its 2 s interval. A variable for the
// tests.
var transientFor = time.Minute

// fastWaitClient is Helm's Kubernetes client with the same readiness rules
// (Helm's ReadyChecker) checked every WaitPoll instead of every 2 seconds.
// Everything else is Helm's client's own: the embedded *kube.Client
// provides the optional interfaces (InterfaceExt, InterfaceThreeWayMerge,
// ...) the actions look for.
type fastWaitClient struct {
	*kube.Client
	poll time.Duration
}

// Wait waits until resources are ready, as Helm's client does.
func (c *fastWaitClient) Wait(resources kube.ResourceList, timeout time.Duration) error {
	return c.waitReady(resources, timeout, false)
}

// WaitWithJobs waits until resources are ready, Jobs complete.
func (c *fastWaitClient) WaitWithJobs(resources kube.ResourceList, timeout time.Duration) error {
	return c.waitReady(resources, timeout, true)
}

// WaitForDelete waits until resources are gone.
func (c *fastWaitClient) WaitForDelete(resources kube.ResourceList, timeout time.Duration) error {
	c.Log("beginning wait for %d resources to be deleted with timeout of %v", len(resources), timeout)
	faults.Point("helm:wait-delete") // the release's objects are being deleted, the release uninstalling
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, c.poll, true, func(context.Context) (bool, error) {
		for _, r := range resources {
			if err := r.Get(); err == nil || !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
}

func (c *fastWaitClient) waitReady(resources kube.ResourceList, timeout time.Duration, jobs bool) error {
	cs, err := c.Factory.KubernetesClientSet()
	if err != nil {
		return err
	}
	return waitReady(cs, resources, timeout, c.poll, jobs, c.Log)
}

// waitReady polls Helm's ReadyChecker over resources every poll until all
// are ready, riding out each resource's transient errors for up to
// transientFor. What it logs (the checker says why a resource is not ready
// at every look) is logged once until it changes.
func waitReady(cs kubernetes.Interface, resources kube.ResourceList, timeout, poll time.Duration, jobs bool, logf func(string, ...any)) error {
	opts := []kube.ReadyCheckerOption{kube.PausedAsReady(true)}
	if jobs {
		opts = append(opts, kube.CheckJobs(true))
	}
	logf = once(logf)
	checker := kube.NewReadyChecker(cs, logf, opts...)
	logf("beginning wait for %d resources with timeout of %v", len(resources), timeout)
	faults.Point("helm:wait") // the release's objects are created, the release pending
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	since := make([]time.Time, len(resources)) // first of a resource's current run of transient errors
	var lastTransient error
	err := wait.PollUntilContextCancel(ctx, poll, true, func(ctx context.Context) (bool, error) {
		lastTransient = nil
		for i, r := range resources {
			ready, err := checker.IsReady(ctx, r)
			if err != nil && gwkube.Transient(err) {
				if since[i].IsZero() {
					since[i] = time.Now()
					logf("%s/%s: %v (retrying for up to %s)", r.Namespace, r.Name, err, transientFor)
				}
				lastTransient = fmt.Errorf("%s/%s: %w", r.Namespace, r.Name, err)
				if time.Since(since[i]) > transientFor {
					return false, lastTransient
				}
				return false, nil
			}
			since[i] = time.Time{}
			if !ready {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil && lastTransient != nil && ctx.Err() != nil {
		// Timed out while the API server was failing: say so.
		err = fmt.Errorf("%w (last error: %v)", err, lastTransient)
	}
	if err != nil {
		logf("wait for resources failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		return err
	}
	logf("wait for resources succeeded within %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// once wraps logf to drop a line identical to the one before it.
func once(logf func(string, ...any)) func(string, ...any) {
	var mu sync.Mutex
	var last string
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		mu.Lock()
		same := line == last
		last = line
		mu.Unlock()
		if !same {
			logf("%s", line)
		}
	}
}
