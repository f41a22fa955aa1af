package helm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// WaitPoll is how often groundwork's Helm client looks at what a release
// waits for. Helm's own client looks every 2 seconds, which costs each wait
// a second on average (and every wait of an install: its CRDs, its hooks'
// deletions, its workloads); on a rebuild that is recovery time.
const WaitPoll = 250 * time.Millisecond

// waitRetries is how many consecutive transient errors (an API server
// restarting, throttling) a resource may answer before the wait gives up, as
// in Helm's client.
const waitRetries = 30

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
// are ready, retrying each resource's transient errors up to waitRetries
// times in a row.
func waitReady(cs kubernetes.Interface, resources kube.ResourceList, timeout, poll time.Duration, jobs bool, logf func(string, ...any)) error {
	opts := []kube.ReadyCheckerOption{kube.PausedAsReady(true)}
	if jobs {
		opts = append(opts, kube.CheckJobs(true))
	}
	checker := kube.NewReadyChecker(cs, logf, opts...)
	logf("beginning wait for %d resources with timeout of %v", len(resources), timeout)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]int, len(resources))
	err := wait.PollUntilContextCancel(ctx, poll, true, func(ctx context.Context) (bool, error) {
		for i, r := range resources {
			ready, err := checker.IsReady(ctx, r)
			if err != nil && transient(err) {
				if errs[i]++; errs[i] > waitRetries {
					return false, fmt.Errorf("%s/%s: %w", r.Namespace, r.Name, err)
				}
				return false, nil
			}
			errs[i] = 0
			if !ready {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		logf("wait for resources failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		return err
	}
	logf("wait for resources succeeded within %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// transient tells whether an error may go away on its own: no HTTP status
// (a connection refused or reset), throttling, or a server error other than
// 501.
func transient(err error) bool {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return true
	}
	code := se.Status().Code
	return code == 0 || code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented
}
