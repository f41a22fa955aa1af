package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// FluxNamespace is the namespace the flux2 chart is installed into.
const FluxNamespace = "flux-system"

// fluxControllers maps the chart's Deployment names to the host binaries
// the supervisor runs for them.
var fluxControllers = []string{"source-controller", "kustomize-controller"}

// overriddenFlags are container args the host kubelet replaces, because
// they name in-cluster paths or addresses.
var overriddenFlags = map[string]bool{
	"storage-path": true, "storage-addr": true, "storage-adv-addr": true,
	"metrics-addr": true, "health-addr": true, "enable-leader-election": true,
	"events-addr": true,
}

// Flux is a "host kubelet" for the Flux controllers: it watches the
// flux-system namespace and, while the chart's source-controller or
// kustomize-controller Deployment (and its ServiceAccount) exist, runs the
// real controller binary on the host, authenticated as that ServiceAccount
// (a TokenRequest kubeconfig), so the chart's RBAC is what the controller
// gets. Whoever installs the chart with Helm therefore gets working
// controllers; the kwok node fakes the pods so Helm's --wait behaves.
type Flux struct {
	cp        *ControlPlane
	namespace string
	logDir    string
	workDir   string

	storagePort int
	cancel      context.CancelFunc
	done        chan struct{}

	mu      sync.Mutex
	running map[string]*fluxProc
	paused  bool // during Wipe
	syncMu  sync.Mutex
}

type fluxProc struct {
	uid        types.UID
	proc       *Process
	healthPort int
	started    time.Time
	restarts   int
}

// StartFlux starts the supervisor. It does not install anything: install the
// chart (see BuildFluxChart) with Helm and the controllers follow.
func StartFlux(t testing.TB, cp *ControlPlane) *Flux {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	for _, b := range fluxControllers {
		if _, err := Binary(ctx, b); err != nil {
			t.Fatalf("test binary %s: %v", b, err)
		}
	}
	f := &Flux{
		cp:          cp,
		namespace:   FluxNamespace,
		logDir:      newLogDir(t, "flux"),
		workDir:     t.TempDir(),
		storagePort: mustFreePort(t),
		running:     map[string]*fluxProc{},
		done:        make(chan struct{}),
	}
	lctx, lcancel := context.WithCancel(context.Background())
	f.cancel = lcancel
	go f.loop(lctx)
	cp.OnWipe(func() {
		f.mu.Lock()
		f.paused = true
		f.mu.Unlock()
		f.syncMu.Lock() // wait for an in-flight sync
		f.syncMu.Unlock()
		f.stopAll()
	}, func() {
		f.mu.Lock()
		f.paused = false
		f.mu.Unlock()
	})
	t.Cleanup(func() {
		f.cancel()
		<-f.done
		f.stopAll()
	})
	return f
}

// Namespace returns the namespace the supervisor watches.
func (f *Flux) Namespace() string { return f.namespace }

// StorageURL is the source-controller artifact server address.
func (f *Flux) StorageURL() string { return fmt.Sprintf("http://127.0.0.1:%d", f.storagePort) }

// LogDir is where the controllers' logs are written.
func (f *Flux) LogDir() string { return f.logDir }

// WaitReady waits until every controller binary runs and answers /readyz.
func (f *Flux) WaitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	return pollUntil(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		for _, name := range fluxControllers {
			f.mu.Lock()
			fp := f.running[name]
			f.mu.Unlock()
			if fp == nil {
				return false, fmt.Errorf("%s is not running", name)
			}
			if exited, err := fp.proc.Exited(); exited {
				return false, fp.proc.Err(fmt.Errorf("exited: %v", err))
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/readyz", fp.healthPort), nil)
			resp, err := hc.Do(req)
			if err != nil {
				return false, fmt.Errorf("%s /readyz: %w", name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Errorf("%s /readyz: %s", name, resp.Status)
			}
		}
		return true, nil
	})
}

// Running reports whether the named controller binary is running.
func (f *Flux) Running(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp := f.running[name]
	if fp == nil {
		return false
	}
	exited, _ := fp.proc.Exited()
	return !exited
}

func (f *Flux) loop(ctx context.Context) {
	defer close(f.done)
	for {
		f.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sync converges the host processes to the Deployments in the namespace.
func (f *Flux) sync(ctx context.Context) {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	paused := f.paused
	f.mu.Unlock()
	if paused {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cs := f.cp.Client()
	for _, name := range fluxControllers {
		dep, err := cs.AppsV1().Deployments(f.namespace).Get(sctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			f.stop(name)
			continue
		case err != nil:
			continue // API unavailable (e.g. during Wipe): keep the current state.
		}
		if dep.DeletionTimestamp != nil || (dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0) {
			f.stop(name)
			continue
		}
		f.mu.Lock()
		fp := f.running[name]
		f.mu.Unlock()
		if fp != nil && fp.uid != dep.UID {
			f.stop(name)
			fp = nil
		}
		if fp != nil {
			exited, _ := fp.proc.Exited()
			if !exited {
				continue
			}
			// CrashLoopBackOff, kubelet style.
			backoff := time.Duration(1<<min(fp.restarts, 5)) * time.Second
			if time.Since(fp.started) < backoff {
				continue
			}
		}
		restarts := 0
		if fp != nil {
			restarts = fp.restarts + 1
		}
		nfp, err := f.start(sctx, name, dep)
		if err != nil {
			f.appendLog(name, fmt.Sprintf("supervisor: cannot start: %v", err))
			continue
		}
		nfp.restarts = restarts
		f.mu.Lock()
		f.running[name] = nfp
		f.mu.Unlock()
	}
}

func (f *Flux) appendLog(name, msg string) {
	lf, err := os.OpenFile(filepath.Join(f.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), msg)
}

func (f *Flux) start(ctx context.Context, name string, dep *appsv1.Deployment) (*fluxProc, error) {
	sa := dep.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	if _, err := f.cp.Client().CoreV1().ServiceAccounts(f.namespace).Get(ctx, sa, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("serviceaccount %s/%s: %w", f.namespace, sa, err)
	}
	kubeconfig, err := f.cp.ServiceAccountKubeconfig(ctx, f.namespace, sa)
	if err != nil {
		return nil, err
	}
	bin, err := Binary(ctx, name)
	if err != nil {
		return nil, err
	}
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	healthPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	var args []string
	if cs := dep.Spec.Template.Spec.Containers; len(cs) > 0 {
		for _, a := range cs[0].Args {
			flagName := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
			if !overriddenFlags[flagName] {
				args = append(args, a)
			}
		}
	}
	args = append(args,
		"--metrics-addr=127.0.0.1:"+strconv.Itoa(metricsPort),
		"--health-addr=127.0.0.1:"+strconv.Itoa(healthPort),
		"--enable-leader-election=false",
	)
	if name == "source-controller" {
		storage := filepath.Join(f.workDir, "storage")
		if err := os.MkdirAll(storage, 0o755); err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(f.storagePort)
		args = append(args, "--storage-path="+storage, "--storage-addr="+addr, "--storage-adv-addr="+addr)
	}
	env := []string{
		"RUNTIME_NAMESPACE=" + f.namespace,
		"KUBECONFIG=" + kubeconfig,
		"HOME=" + f.workDir,
		"TMPDIR=" + os.TempDir(),
	}
	f.appendLog(name, fmt.Sprintf("supervisor: starting for deployment %s/%s (uid %s) as serviceaccount %s", f.namespace, name, dep.UID, sa))
	p, err := startProcess(name, f.logDir, bin, args, env)
	if err != nil {
		return nil, err
	}
	return &fluxProc{uid: dep.UID, proc: p, healthPort: healthPort, started: time.Now()}, nil
}

func (f *Flux) stop(name string) {
	f.mu.Lock()
	fp := f.running[name]
	delete(f.running, name)
	f.mu.Unlock()
	if fp != nil {
		f.appendLog(name, "supervisor: stopping")
		fp.proc.Stop(10 * time.Second)
	}
}

func (f *Flux) stopAll() {
	for _, n := range fluxControllers {
		f.stop(n)
	}
}
