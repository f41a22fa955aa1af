package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
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

// argoCDBinary is the name `go build` gives Argo CD's multi-call binary
// (github.com/argoproj/argo-cd/v3/cmd); it acts by the name it is run as.
const argoCDBinary = "cmd"

// argoCDComponents are the chart's Deployments the supervisor runs, in the
// order it starts them.
var argoCDComponents = []string{
	"argocd-redis",
	"argocd-repo-server",
	"argocd-application-controller",
	"argocd-applicationset-controller",
}

// argoCDOverridden are container args the supervisor replaces with loopback
// addresses and ports.
var argoCDOverridden = map[string]bool{
	"port": true, "address": true, "metrics-port": true, "metrics-address": true,
	"redis": true, "repo-server": true, "argocd-repo-server": true,
	"metrics-addr": true, "probe-addr": true, "webhook-addr": true, "enable-leader-election": true,
}

// RedisServerError says the host has no redis-server, which Argo CD needs.
type RedisServerError struct{ Err error }

func (e *RedisServerError) Error() string {
	return fmt.Sprintf("redis-server not found (%v): Argo CD's tests run Redis from the host; install it (Debian: apt-get install -y redis-server)", e.Err)
}

func (e *RedisServerError) Unwrap() error { return e.Err }

// RedisServer returns the path of redis-server from PATH.
func RedisServer() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", &RedisServerError{Err: err}
	}
	return p, nil
}

// ArgoCD is a "host kubelet" for Argo CD, like Flux: while the argo-cd
// chart's Deployments exist in the namespace it runs the real programs on
// the host — Redis (redis-server), argocd-repo-server,
// argocd-application-controller and argocd-applicationset-controller, the
// last three from Argo CD's multi-call binary — each controller
// authenticated as its Deployment's ServiceAccount (TokenRequest
// kubeconfig), so the chart's RBAC is what it gets. The repo-server finds
// the helm and kustomize binaries built from their modules on its PATH.
type ArgoCD struct {
	cp        *ControlPlane
	namespace string
	logDir    string
	workDir   string
	binDir    string
	redis     string

	redisPort, repoPort int
	cancel              context.CancelFunc
	done                chan struct{}

	mu      sync.Mutex
	running map[string]*argoProc
	paused  bool
	syncMu  sync.Mutex
}

type argoProc struct {
	uid      types.UID
	proc     *Process
	ready    func(context.Context) error
	started  time.Time
	restarts int
}

// StartArgoCD starts the supervisor. It does not install anything: install
// the chart (see BuildArgoCDChart) with Helm and the programs follow. It
// fails the test when redis-server is missing.
func StartArgoCD(t testing.TB, cp *ControlPlane) *ArgoCD {
	t.Helper()
	redis, err := RedisServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	work := t.TempDir()
	binDir := filepath.Join(work, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	multi, err := Binary(ctx, argoCDBinary)
	if err != nil {
		t.Fatalf("test binary argocd: %v", err)
	}
	// Argo CD acts by its name: argocd (the git askpass helper the
	// repo-server hands to git) and one name per component.
	for _, n := range []string{"argocd", "argocd-repo-server", "argocd-application-controller", "argocd-applicationset-controller"} {
		if err := os.Symlink(multi, filepath.Join(binDir, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"helm", "kustomize"} {
		p, err := Binary(ctx, n)
		if err != nil {
			t.Fatalf("test binary %s: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(binDir, n)); err != nil {
			t.Fatal(err)
		}
	}
	a := &ArgoCD{
		cp:        cp,
		namespace: ArgoCDNamespace,
		logDir:    newLogDir(t, "argocd"),
		workDir:   work,
		binDir:    binDir,
		redis:     redis,
		redisPort: mustFreePort(t),
		repoPort:  mustFreePort(t),
		running:   map[string]*argoProc{},
		done:      make(chan struct{}),
	}
	lctx, lcancel := context.WithCancel(context.Background())
	a.cancel = lcancel
	go a.loop(lctx)
	cp.OnWipe(func() {
		a.mu.Lock()
		a.paused = true
		a.mu.Unlock()
		a.syncMu.Lock()
		a.syncMu.Unlock()
		a.stopAll()
	}, func() {
		a.mu.Lock()
		a.paused = false
		a.mu.Unlock()
	})
	t.Cleanup(func() {
		a.cancel()
		<-a.done
		a.stopAll()
	})
	return a
}

// Namespace returns the namespace the supervisor watches.
func (a *ArgoCD) Namespace() string { return a.namespace }

// LogDir is where the programs' logs are written.
func (a *ArgoCD) LogDir() string { return a.logDir }

// Running reports whether the program of the named Deployment runs.
func (a *ArgoCD) Running(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.running[name]
	if p == nil {
		return false
	}
	exited, _ := p.proc.Exited()
	return !exited
}

// WaitReady waits until every program runs and answers its probe.
func (a *ArgoCD) WaitReady(ctx context.Context) error {
	return pollUntil(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		for _, name := range argoCDComponents {
			a.mu.Lock()
			p := a.running[name]
			a.mu.Unlock()
			if p == nil {
				return false, fmt.Errorf("%s is not running", name)
			}
			if exited, err := p.proc.Exited(); exited {
				return false, p.proc.Err(fmt.Errorf("exited: %v", err))
			}
			if err := p.ready(ctx); err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
		}
		return true, nil
	})
}

func (a *ArgoCD) loop(ctx context.Context) {
	defer close(a.done)
	for {
		a.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sync converges the host processes to the Deployments in the namespace.
func (a *ArgoCD) sync(ctx context.Context) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	a.mu.Lock()
	paused := a.paused
	a.mu.Unlock()
	if paused {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cs := a.cp.Client()
	for _, name := range argoCDComponents {
		dep, err := cs.AppsV1().Deployments(a.namespace).Get(sctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			a.stop(name)
			continue
		case err != nil:
			continue
		}
		if dep.DeletionTimestamp != nil || (dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0) {
			a.stop(name)
			continue
		}
		a.mu.Lock()
		p := a.running[name]
		a.mu.Unlock()
		if p != nil && p.uid != dep.UID {
			a.stop(name)
			p = nil
		}
		if p != nil {
			if exited, _ := p.proc.Exited(); !exited {
				continue
			}
			backoff := time.Duration(1<<min(p.restarts, 5)) * time.Second
			if time.Since(p.started) < backoff {
				continue
			}
		}
		restarts := 0
		if p != nil {
			restarts = p.restarts + 1
		}
		np, err := a.start(sctx, name, dep)
		if err != nil {
			a.appendLog(name, fmt.Sprintf("supervisor: cannot start: %v", err))
			continue
		}
		np.restarts = restarts
		a.mu.Lock()
		a.running[name] = np
		a.mu.Unlock()
	}
}

func (a *ArgoCD) appendLog(name, msg string) {
	lf, err := os.OpenFile(filepath.Join(a.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), msg)
}

// containerArgs are the Deployment's container args that are flags, less
// those the supervisor replaces.
func containerArgs(dep *appsv1.Deployment) []string {
	var args []string
	if cs := dep.Spec.Template.Spec.Containers; len(cs) > 0 {
		for _, arg := range cs[0].Args {
			if !strings.HasPrefix(arg, "-") {
				continue // the image's binary path
			}
			if !argoCDOverridden[strings.TrimLeft(strings.SplitN(arg, "=", 2)[0], "-")] {
				args = append(args, arg)
			}
		}
	}
	return args
}

func tcpReady(port int) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func httpReady(url string) func(context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

func (a *ArgoCD) start(ctx context.Context, name string, dep *appsv1.Deployment) (*argoProc, error) {
	loop := "127.0.0.1"
	redisAddr := loop + ":" + strconv.Itoa(a.redisPort)
	repoAddr := loop + ":" + strconv.Itoa(a.repoPort)
	env := []string{
		"HOME=" + a.workDir,
		"PATH=" + a.binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"ARGOCD_GPG_ENABLED=false",
	}
	if name != "argocd-redis" && name != "argocd-repo-server" {
		sa := dep.Spec.Template.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		if _, err := a.cp.Client().CoreV1().ServiceAccounts(a.namespace).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("serviceaccount %s/%s: %w", a.namespace, sa, err)
		}
		kubeconfig, err := a.cp.ServiceAccountKubeconfig(ctx, a.namespace, sa)
		if err != nil {
			return nil, err
		}
		// The in-cluster destination (https://kubernetes.default.svc) is
		// the ServiceAccount's kubeconfig, as in Argo CD's own local runs.
		env = append(env, "KUBECONFIG="+kubeconfig, "ARGOCD_FAKE_IN_CLUSTER=true")
	}
	tmp := filepath.Join(a.workDir, name+"-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	env = append(env, "TMPDIR="+tmp)
	args := containerArgs(dep)
	var bin string
	var ready func(context.Context) error
	switch name {
	case "argocd-redis":
		bin = a.redis
		args = []string{"--port", strconv.Itoa(a.redisPort), "--bind", loop, "--save", "", "--appendonly", "no", "--protected-mode", "no"}
		ready = tcpReady(a.redisPort)
	case "argocd-repo-server":
		mp, err := FreePort()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(a.binDir, name)
		args = append(args, "--address="+loop, "--port="+strconv.Itoa(a.repoPort),
			"--metrics-address="+loop, "--metrics-port="+strconv.Itoa(mp), "--redis="+redisAddr)
		// The askpass socket is /tmp/reposerver-ask-pass.sock by default,
		// shared by every repo-server on the host.
		env = append(env, "ARGOCD_ASK_PASS_SOCK="+filepath.Join(tmp, "askpass.sock"))
		ready = httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", mp))
	case "argocd-application-controller":
		mp, err := FreePort()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(a.binDir, name)
		args = append(args, "--metrics-port="+strconv.Itoa(mp), "--repo-server="+repoAddr, "--redis="+redisAddr)
		ready = httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", mp))
	case "argocd-applicationset-controller":
		ports := make([]int, 3)
		for i := range ports {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		bin = filepath.Join(a.binDir, name)
		args = append(args, fmt.Sprintf("--metrics-addr=%s:%d", loop, ports[0]), fmt.Sprintf("--probe-addr=%s:%d", loop, ports[1]),
			fmt.Sprintf("--webhook-addr=%s:%d", loop, ports[2]), "--argocd-repo-server="+repoAddr, "--enable-leader-election=false")
		// It registers no health checks: serving metrics means started.
		ready = httpReady(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]))
	default:
		return nil, fmt.Errorf("no host program for deployment %s", name)
	}
	a.appendLog(name, fmt.Sprintf("supervisor: starting for deployment %s/%s (uid %s) as serviceaccount %s", a.namespace, name, dep.UID, dep.Spec.Template.Spec.ServiceAccountName))
	p, err := startProcess(name, a.logDir, bin, args, env)
	if err != nil {
		return nil, err
	}
	return &argoProc{uid: dep.UID, proc: p, ready: ready, started: time.Now()}, nil
}

func (a *ArgoCD) stop(name string) {
	a.mu.Lock()
	p := a.running[name]
	delete(a.running, name)
	a.mu.Unlock()
	if p != nil {
		a.appendLog(name, "supervisor: stopping")
		p.proc.Stop(10 * time.Second)
	}
}

func (a *ArgoCD) stopAll() {
	for i := len(argoCDComponents) - 1; i >= 0; i-- {
		a.stop(argoCDComponents[i])
	}
}
