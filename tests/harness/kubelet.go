package harness

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// FluxNamespace is the namespace the tests install the flux2 chart into.
const FluxNamespace = "flux-system"

// listen is a flag a program listens with, and the container port it serves.
type listen struct {
	flag string
	port int32
	// portOnly: the flag takes a port number (Argo CD's --port), not host:port.
	portOnly bool
}

// program is how a container image runs on the host.
type program struct {
	// binary is the test binary (see Binary) run for the image; for Argo CD's
	// image it is the multi-call binary, run under the component's name.
	binary string
	// redis: run redis-server from the host's PATH.
	redis bool
	// listens are the flags replaced by loopback addresses; set are flags
	// replaced by fixed values. Both are added when the container's args do
	// not have them, so that no two programs share a default port.
	listens []listen
	set     map[string]string
	// storage: source-controller's artifact directory.
	storage bool
	// inCluster: the program reads its identity only the in-cluster way
	// (rest.InClusterConfig: the token and CA at
	// /var/run/secrets/kubernetes.io/serviceaccount and
	// KUBERNETES_SERVICE_HOST). It runs in a mount namespace of its own
	// where that folder holds its ServiceAccount's token, as in a pod.
	inCluster bool
	// subcommands: the image runs one binary whose first argument picks
	// what it is (External Secrets' webhook and certcontroller; "" is the
	// argument-less main program); each has its own listen flags.
	subcommands map[string]program
}

var fluxListens = []listen{{flag: "metrics-addr", port: 8080}, {flag: "health-addr", port: 9440}}

// fluxProgram is a Flux controller: its listen flags and leader election
// off (one replica, no lease to wait for after a restart).
func fluxProgram(binary string, extra ...listen) program {
	return program{binary: binary, listens: append(append([]listen{}, fluxListens...), extra...),
		set: map[string]string{"enable-leader-election": "false"}}
}

// programs maps container image repositories (without tag or digest) to the
// host programs run for them. Images not listed get nothing: kwok still makes
// their pods Running and Ready, and the kubelet's log says nothing runs
// behind them.
var programs = map[string]program{
	"ghcr.io/fluxcd/source-controller": func() program {
		p := fluxProgram("source-controller", listen{flag: "storage-addr", port: 9090})
		p.storage = true
		return p
	}(),
	"ghcr.io/fluxcd/kustomize-controller": fluxProgram("kustomize-controller"),
	"ghcr.io/fluxcd/helm-controller":      fluxProgram("helm-controller"),
	"ghcr.io/fluxcd/notification-controller": fluxProgram("notification-controller",
		listen{flag: "events-addr", port: 9090}, listen{flag: "receiverAddr", port: 9292}),
	"quay.io/argoproj/argocd": {binary: argoCDBinary},
	"redis":                   {redis: true},
	"docker.io/bitnami/sealed-secrets-controller": {binary: "controller", inCluster: true,
		listens: []listen{{flag: "listen-addr", port: 8080}, {flag: "listen-metrics-addr", port: 8081}}},
	"oci.external-secrets.io/external-secrets/external-secrets": externalSecrets,
	"ghcr.io/external-secrets/external-secrets":                 externalSecrets,
}

// externalSecrets is External Secrets Operator's image: the controller,
// its admission webhook and the controller of the webhook's certificate.
var externalSecrets = program{binary: "external-secrets", subcommands: map[string]program{
	"":               {listens: []listen{{flag: "metrics-addr", port: 8080}, {flag: "live-addr", port: 8082}}},
	"webhook":        {listens: []listen{{flag: "metrics-addr", port: 8080}, {flag: "healthz-addr", port: 8081}, {flag: "port", port: 10250, portOnly: true}}},
	"certcontroller": {listens: []listen{{flag: "metrics-addr", port: 8080}, {flag: "healthz-addr", port: 8081}}},
}}

// argoCDComponents are what Argo CD's image runs, by the name it is run as.
var argoCDComponents = map[string]program{
	"argocd": {}, // the CLI, run by the chart's hook Jobs (argocd admin redis-initial-password)
	"argocd-repo-server": {listens: []listen{{flag: "port", port: 8081, portOnly: true}, {flag: "metrics-port", port: 8084, portOnly: true}},
		set: map[string]string{"address": "127.0.0.1", "metrics-address": "127.0.0.1"}},
	"argocd-application-controller": {listens: []listen{{flag: "metrics-port", port: 8082, portOnly: true}}},
	"argocd-applicationset-controller": {listens: []listen{{flag: "metrics-addr", port: 8080}, {flag: "probe-addr", port: 8081}, {flag: "webhook-addr", port: 7000}},
		set: map[string]string{"enable-leader-election": "false"}},
	"argocd-server": {listens: []listen{{flag: "port", port: 8080, portOnly: true}, {flag: "metrics-port", port: 8083, portOnly: true}},
		set: map[string]string{"address": "127.0.0.1"}},
	"argocd-notifications": {listens: []listen{{flag: "metrics-port", port: 9001, portOnly: true}}},
}

// argoCDBinary is the name `go build` gives Argo CD's multi-call binary
// (github.com/argoproj/argo-cd/v3/cmd); it acts by the name it is run as.
const argoCDBinary = "cmd"

// imageRepository strips the tag and digest of an image reference; Docker
// Hub's library images are reduced to their short name ("redis").
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	for _, p := range []string{"docker.io/library/", "public.ecr.aws/docker/library/", "ecr-public.aws.com/docker/library/"} {
		image = strings.TrimPrefix(image, p)
	}
	return image
}

// Kubelet is the harness's one "host kubelet": for every Deployment and
// StatefulSet in the cluster whose container image has a cached binary (see
// programs) it runs that binary on the host, with the container's args
// ($(VAR) references expanded, listen addresses moved to loopback ports,
// Service addresses rewritten to those ports), authenticated as the pod's
// ServiceAccount (a TokenRequest kubeconfig) unless the pod does not mount
// its token. It restarts a program that exits (with a kubelet-like back-off),
// restarts it when the pod template changes, and stops it when the workload
// goes or scales to zero. kwok fakes the pods, so Helm's waits and
// kube-controller-manager behave as on a real cluster. The pods of Jobs
// (Helm hooks) whose image has a binary run its command and complete with
// its exit code; the control plane completes the others at once. Secret,
// ConfigMap and emptyDir volumes are folders on the host, and Services with
// a program behind them answer at their ClusterIPs.
type Kubelet struct {
	cp      *ControlPlane
	logDir  string
	workDir string
	cancel  context.CancelFunc
	done    chan struct{}

	sockDir string // unix sockets (short paths)

	binOnce sync.Once
	binDir  string // Argo CD's names, helm, kustomize and git's askpass
	binErr  error

	// Rollouts in flight: cancelled and waited for on Wipe and cleanup.
	rollCtx    context.Context
	rollCancel context.CancelFunc
	rollouts   sync.WaitGroup
	jobs       sync.WaitGroup // Job commands in flight

	mu      sync.Mutex
	running map[string]*hostPod            // by workload key
	ports   map[string]map[int32]*endpoint // workload key → container port → its stable address
	proxies map[string]*serviceProxy       // "namespace/name/clusterIP:port" → its listener
	said    map[string]bool                // "nothing runs behind" lines already logged
	paused  bool                           // during Wipe
	syncMu  sync.Mutex
}

type hostPod struct {
	w    workload
	hash string
	// backends are the ports the program listens on, by container port.
	backends map[int32]int
	proc     *Process
	ready    func(context.Context) error
	started  time.Time
	restarts int
	volumes  *podVolumes
	// crashReported: the pods say CrashLoopBackOff for this exit;
	// readyReported: they say Ready again after a restart.
	crashReported, readyReported bool
}

// workload is a Deployment or StatefulSet, as far as the kubelet cares.
type workload struct {
	kind, namespace, name string
	uid                   types.UID
	template              corev1.PodTemplateSpec
	// selector picks its pods (nil for a Job's pod).
	selector *metav1.LabelSelector
}

func (w workload) key() string { return w.namespace + "/" + w.name }

// StartKubelet starts the host kubelet on cp. It installs nothing: install a
// chart with Helm and the programs of its workloads follow.
func StartKubelet(t testing.TB, cp *ControlPlane) *Kubelet {
	t.Helper()
	k := &Kubelet{
		cp:      cp,
		logDir:  newLogDir(t, "kubelet"),
		workDir: t.TempDir(),
		running: map[string]*hostPod{},
		ports:   map[string]map[int32]*endpoint{},
		proxies: map[string]*serviceProxy{},
		said:    map[string]bool{},
		done:    make(chan struct{}),
	}
	// Build (or find) the Flux controllers now, so that a test's timeouts
	// do not include a cold build.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	for _, p := range programs {
		if p.binary != "" && p.binary != argoCDBinary {
			if _, err := Binary(ctx, p.binary); err != nil {
				t.Fatalf("test binary %s: %v", p.binary, err)
			}
		}
	}
	sockDir, err := os.MkdirTemp("", "gw-sock-")
	if err != nil {
		t.Fatal(err)
	}
	k.sockDir = sockDir
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	k.rollCtx, k.rollCancel = context.WithCancel(context.Background())
	cp.RunJobsWith(k.runJob)
	lctx, lcancel := context.WithCancel(context.Background())
	k.cancel = lcancel
	go k.loop(lctx)
	cp.OnWipe(func() {
		k.mu.Lock()
		k.paused = true
		k.mu.Unlock()
		k.syncMu.Lock() // wait for an in-flight sync
		k.syncMu.Unlock()
		k.stopRollouts()
		k.stopAll()
	}, func() {
		k.mu.Lock()
		k.paused = false
		k.rollCtx, k.rollCancel = context.WithCancel(context.Background())
		k.mu.Unlock()
	})
	t.Cleanup(func() {
		cp.RunJobsWith(nil)
		k.cancel()
		<-k.done
		k.jobs.Wait()
		k.stopRollouts()
		k.stopAll()
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, m := range k.ports {
			for _, e := range m {
				_ = e.ln.Close()
			}
		}
		for _, sp := range k.proxies {
			_ = sp.ln.Close()
		}
	})
	return k
}

// LogDir is where the programs' logs are written, one file per workload.
func (k *Kubelet) LogDir() string { return k.logDir }

// Running reports whether a program runs for the named workload (in any
// namespace).
func (k *Kubelet) Running(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.running {
		if p.w.name == name {
			exited, _ := p.proc.Exited()
			return !exited
		}
	}
	return false
}

// StartedAt is when the program of the named workload (in any namespace)
// was last started; zero when none runs.
func (k *Kubelet) StartedAt(name string) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.running {
		if p.w.name == name {
			return p.started
		}
	}
	return time.Time{}
}

// Crash kills the program of the named workload (in any namespace) with
// SIGKILL, as a container crashes: the kubelet starts it again after its
// CrashLoopBackOff delay. It reports whether a running program was killed.
func (k *Kubelet) Crash(name string) bool {
	k.mu.Lock()
	var p *hostPod
	for _, hp := range k.running {
		if hp.w.name == name {
			p = hp
		}
	}
	k.mu.Unlock()
	if p == nil {
		return false
	}
	if exited, _ := p.proc.Exited(); exited {
		return false
	}
	k.logf(name, "kubelet: %s crashes (killed by the test)", name)
	return syscall.Kill(-p.proc.cmd.Process.Pid, syscall.SIGKILL) == nil
}

// WaitReady waits until the named workloads (by default every workload the
// kubelet runs a program for) run and pass their readiness probes.
func (k *Kubelet) WaitReady(ctx context.Context, names ...string) error {
	return pollUntil(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		k.mu.Lock()
		var pods []*hostPod
		found := map[string]bool{}
		for _, p := range k.running {
			if len(names) == 0 || slices.Contains(names, p.w.name) {
				pods = append(pods, p)
				found[p.w.name] = true
			}
		}
		k.mu.Unlock()
		for _, n := range names {
			if !found[n] {
				return false, fmt.Errorf("%s is not running", n)
			}
		}
		if len(pods) == 0 {
			return false, fmt.Errorf("no program runs yet")
		}
		for _, p := range pods {
			if exited, err := p.proc.Exited(); exited {
				return false, p.proc.Err(fmt.Errorf("exited: %v", err))
			}
			if err := p.ready(ctx); err != nil {
				return false, fmt.Errorf("%s: %w", p.w.name, err)
			}
		}
		return true, nil
	})
}

func (k *Kubelet) loop(ctx context.Context) {
	defer close(k.done)
	for {
		k.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// workloads lists the Deployments and StatefulSets that should have pods.
func (k *Kubelet) workloads(ctx context.Context) ([]workload, error) {
	cs := k.cp.Client()
	deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	sets, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []workload
	for _, d := range deps.Items {
		if d.DeletionTimestamp == nil && (d.Spec.Replicas == nil || *d.Spec.Replicas > 0) {
			out = append(out, workload{"Deployment", d.Namespace, d.Name, d.UID, d.Spec.Template, d.Spec.Selector})
		}
	}
	for _, s := range sets.Items {
		if s.DeletionTimestamp == nil && (s.Spec.Replicas == nil || *s.Spec.Replicas > 0) {
			out = append(out, workload{"StatefulSet", s.Namespace, s.Name, s.UID, s.Spec.Template, s.Spec.Selector})
		}
	}
	return out, nil
}

// sync converges the host programs to the workloads in the cluster.
func (k *Kubelet) sync(ctx context.Context) {
	k.syncMu.Lock()
	defer k.syncMu.Unlock()
	k.mu.Lock()
	paused := k.paused
	k.mu.Unlock()
	if paused {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := k.workloads(sctx)
	if err != nil {
		return // API unavailable (e.g. during Wipe): keep the current state.
	}
	want := map[string]bool{}
	for _, w := range ws {
		c, prog, ok := k.programFor(w)
		if !ok {
			continue
		}
		want[w.key()] = true
		hash := templateHash(w)
		k.mu.Lock()
		p := k.running[w.key()]
		k.mu.Unlock()
		if p != nil && p.w.uid != w.uid {
			k.logf(w.name, "kubelet: %s %s was replaced (uid %s): restarting", w.kind, w.key(), w.uid)
			k.stop(w.key())
			p = nil
		}
		if p != nil && p.hash != hash {
			k.rollOut(p, w, c, prog, hash)
			continue
		}
		restarts := 0
		if p != nil {
			if exited, _ := p.proc.Exited(); !exited {
				if p.volumes != nil && p.volumes.due(time.Now()) {
					k.noteRefreshError(p, k.refreshVolumes(sctx, p.volumes))
				}
				if p.restarts > 0 && !p.readyReported && time.Since(p.started) >= readyAfter {
					p.readyReported = k.reportReady(ctx, p, c.Name) == nil
				}
				continue
			}
			// CrashLoopBackOff, kubelet style.
			if backoff := time.Duration(1<<min(p.restarts, 5)) * time.Second; time.Since(p.started) < backoff {
				if !p.crashReported {
					p.crashReported = k.reportCrash(ctx, p, c.Name, backoff) == nil
				}
				continue
			}
			restarts = p.restarts + 1
		}
		var last *corev1.ContainerStateTerminated
		if p != nil {
			last = lastExit(p)
		}
		np, err := k.start(sctx, w, c, prog)
		if err != nil {
			k.logf(w.name, "kubelet: cannot start %s %s: %v", w.kind, w.key(), err)
			continue
		}
		np.hash, np.restarts = hash, restarts
		k.mu.Lock()
		k.running[w.key()] = np
		k.mu.Unlock()
		k.route(np)
		if restarts > 0 {
			// Not Ready either way: reportReady follows once it stays up.
			_ = k.reportRestarted(ctx, np, c.Name, last)
		}
	}
	k.mu.Lock()
	var gone []string
	for key := range k.running {
		if !want[key] {
			gone = append(gone, key)
		}
	}
	k.mu.Unlock()
	for _, key := range gone {
		k.stop(key)
	}
	k.syncServices(sctx, ws, want)
}

// imagePull is how long the kubelet takes, in a rollout, to "pull" an
// image the node has not run: a real node pulls a new tag before the new
// pod starts, and only then does the Deployment stop the old pod. Without
// it the harness would replace a program faster than any cluster can
// (helm-controller upgrading the release it runs in would be stopped while
// still recording the upgrade).
const imagePull = 10 * time.Second

// rollOut replaces the program of a workload whose pod template changed
// the way a Deployment's rolling update does (maxSurge 1, maxUnavailable
// 0): the new pod pulls its image if it changed, its program starts beside
// the old one, the Service endpoints move to it once it is ready, and only
// then is the old one stopped, with the pod's termination grace period.
func (k *Kubelet) rollOut(old *hostPod, w workload, c corev1.Container, prog program, hash string) {
	k.mu.Lock()
	oldHash := old.hash
	old.hash = hash // rolling out: sync leaves it alone meanwhile
	ctx := k.rollCtx
	k.mu.Unlock()
	pull := time.Duration(0)
	if images(old.w) != images(w) {
		pull = imagePull
	}
	k.logf(w.name, "kubelet: %s %s pod template changed (%s, image %s): rolling out a new program (image pull %s)", w.kind, w.key(), hash, images(w), pull)
	// retry gives the rollout back to sync when it could not complete.
	retry := func(np *hostPod, why string, args ...any) {
		k.logf(w.name, "kubelet: rollout of %s: "+why, append([]any{w.key()}, args...)...)
		if np != nil {
			np.proc.Stop(10 * time.Second)
		}
		k.mu.Lock()
		if old.hash == hash {
			old.hash = oldHash
		}
		k.mu.Unlock()
	}
	k.rollouts.Add(1)
	go func() {
		defer k.rollouts.Done()
		select {
		case <-ctx.Done():
			retry(nil, "cancelled")
			return
		case <-time.After(pull):
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		np, err := k.start(sctx, w, c, prog)
		if err != nil {
			retry(nil, "cannot start: %v", err)
			return
		}
		np.hash = hash
		err = pollUntil(sctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
			if exited, err := np.proc.Exited(); exited {
				return false, fmt.Errorf("exited: %v", err)
			}
			return np.ready(ctx) == nil, nil
		})
		if err != nil {
			retry(np, "the new program did not become ready: %v", err)
			return
		}
		k.mu.Lock()
		current := k.running[w.key()]
		if current == old {
			k.running[w.key()] = np
		}
		k.mu.Unlock()
		if current != old { // stopped or replaced meanwhile
			np.proc.Stop(10 * time.Second)
			return
		}
		k.route(np)
		k.logf(w.name, "kubelet: stopping the previous program of %s", w.key())
		old.proc.Stop(gracePeriod(old.w))
	}()
}

// stopRollouts cancels the rollouts in flight and waits for them.
func (k *Kubelet) stopRollouts() {
	k.mu.Lock()
	cancel := k.rollCancel
	k.mu.Unlock()
	cancel()
	k.rollouts.Wait()
}

func images(w workload) string {
	var s []string
	for _, c := range w.template.Spec.Containers {
		s = append(s, c.Image)
	}
	return strings.Join(s, ",")
}

// gracePeriod is the pod's termination grace period, at most a minute.
func gracePeriod(w workload) time.Duration {
	grace := 30 * time.Second
	if g := w.template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	return min(grace, time.Minute)
}

// programFor finds the container of w that has a host program. A workload
// without one is logged once.
func (k *Kubelet) programFor(w workload) (corev1.Container, program, bool) {
	var images []string
	for _, c := range w.template.Spec.Containers {
		if p, ok := programFor(c.Image); ok {
			return c, p, true
		}
		images = append(images, c.Image)
	}
	k.sayOnce(w.key()+"/"+string(w.uid), w.name, "kubelet: no binary for %s (%s %s): nothing runs behind it; kwok keeps its pod Running", strings.Join(images, ", "), w.kind, w.key())
	return corev1.Container{}, program{}, false
}

// programFor is the host program of a container image.
func programFor(image string) (program, bool) {
	if p, ok := programs[imageRepository(image)]; ok {
		return p, true
	}
	if strings.HasSuffix(imageRepository(image), "/redis") {
		return programs["redis"], true
	}
	return program{}, false
}

func (k *Kubelet) sayOnce(key, file, format string, args ...any) {
	k.mu.Lock()
	said := k.said[key]
	k.said[key] = true
	k.mu.Unlock()
	if !said {
		k.logf(file, format, args...)
	}
}

// templateHash identifies what a program is started from: a change restarts
// it. Like a Deployment's pod-template-hash it covers the template's labels
// and annotations too (a chart upgrade that only relabels the pods, such as
// helm.sh/chart, still rolls them).
func templateHash(w workload) string {
	b, _ := json.Marshal(corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: w.template.Labels, Annotations: w.template.Annotations},
		Spec:       w.template.Spec,
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func (k *Kubelet) logf(name, format string, args ...any) {
	lf, err := os.OpenFile(filepath.Join(k.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

// endpoint is the stable loopback address of a workload's container port,
// what a Service address is rewritten to: a TCP proxy to the port the
// workload's current program listens on (a kube-proxy of sorts), so that a
// program can be replaced, rolling-update style, without the addresses
// handed to other programs changing.
type endpoint struct {
	port    int
	ln      net.Listener
	mu      sync.Mutex
	backend int // 0: nothing listens yet
}

func (e *endpoint) route(backend int) {
	e.mu.Lock()
	e.backend = backend
	e.mu.Unlock()
}

func (e *endpoint) serve() {
	serveTCPProxy(e.ln, func() string {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.backend == 0 {
			return ""
		}
		return "127.0.0.1:" + strconv.Itoa(e.backend)
	})
}

// hostPort is the stable loopback port standing for a workload's container
// port for the life of the test.
func (k *Kubelet) hostPort(key string, port int32) (int, error) {
	e, err := k.endpoint(key, port)
	if err != nil {
		return 0, err
	}
	return e.port, nil
}

func (k *Kubelet) endpoint(key string, port int32) (*endpoint, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.ports[key]
	if m == nil {
		m = map[int32]*endpoint{}
		k.ports[key] = m
	}
	if e, ok := m[port]; ok {
		return e, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &endpoint{port: ln.Addr().(*net.TCPAddr).Port, ln: ln}
	go e.serve()
	m[port] = e
	return e, nil
}

// route points the workload's endpoints at the ports its program p listens on.
func (k *Kubelet) route(p *hostPod) {
	for port, backend := range p.backends {
		if e, err := k.endpoint(p.w.key(), port); err == nil {
			e.route(backend)
		}
	}
}

// containerPort resolves a port reference (number or name) of a container.
func containerPort(c corev1.Container, ref intstr.IntOrString) (int32, bool) {
	if ref.Type == intstr.Int {
		return ref.IntVal, true
	}
	for _, p := range c.Ports {
		if p.Name == ref.StrVal {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// serviceAddr resolves a Service and port (0: its first port) to the
// loopback address of the workload behind it.
func (k *Kubelet) serviceAddr(ctx context.Context, namespace, name string, port int) (string, error) {
	svc, err := k.cp.Client().CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if port == 0 || int(svc.Spec.Ports[i].Port) == port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return "", fmt.Errorf("service %s/%s has no port %d", namespace, name, port)
	}
	ws, err := k.workloads(ctx)
	if err != nil {
		return "", err
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, w := range ws {
		if w.namespace != namespace || len(svc.Spec.Selector) == 0 || !sel.Matches(labels.Set(w.template.Labels)) {
			continue
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		for _, c := range w.template.Spec.Containers {
			if cp, ok := containerPort(c, target); ok {
				hp, err := k.hostPort(w.key(), cp)
				if err != nil {
					return "", err
				}
				return "127.0.0.1:" + strconv.Itoa(hp), nil
			}
		}
	}
	return "", fmt.Errorf("no workload behind service %s/%s port %s", namespace, name, sp.TargetPort.String())
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand replaces the $(VAR) references in s that env defines, as the
// kubelet does for a container's env values, command and args.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[varRef.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

// containerEnv is the container's environment as the kubelet makes it:
// literal values ($(VAR) expanded), the pod's namespace and name, and
// values from ConfigMaps and Secrets (envFrom and valueFrom; a missing one
// that is not optional is an error, as it keeps a pod from starting). Values
// naming an in-cluster Service address are rewritten to the loopback
// address standing for it (Argo CD's chart hands its components each
// other's addresses through a ConfigMap).
func (k *Kubelet) containerEnv(ctx context.Context, w workload, c corev1.Container) (map[string]string, error) {
	cs := k.cp.Client().CoreV1()
	env := map[string]string{}
	optional := func(b *bool) bool { return b != nil && *b }
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := cs.ConfigMaps(w.namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("envFrom configmap %s: %w", from.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case from.SecretRef != nil:
			sec, err := cs.Secrets(w.namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("envFrom secret %s: %w", from.SecretRef.Name, err)
			}
			data = map[string]string{}
			for key, v := range sec.Data {
				data[key] = string(v)
			}
		}
		for key, v := range data {
			env[from.Prefix+key] = v
		}
	}
	for _, e := range c.Env {
		from := e.ValueFrom
		switch {
		case from == nil:
			env[e.Name] = expand(e.Value, env)
		case from.FieldRef != nil && from.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = w.namespace
		case from.FieldRef != nil && from.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = w.name
		case from.ConfigMapKeyRef != nil:
			ref := from.ConfigMapKeyRef
			cm, err := cs.ConfigMaps(w.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil && !(apierrors.IsNotFound(err) && optional(ref.Optional)) {
				return nil, fmt.Errorf("env %s: configmap %s: %w", e.Name, ref.Name, err)
			}
			var data map[string]string
			if cm != nil {
				data = cm.Data
			}
			if v, ok := data[ref.Key]; ok {
				env[e.Name] = v
			} else if err == nil && !optional(ref.Optional) {
				return nil, fmt.Errorf("env %s: configmap %s has no key %s", e.Name, ref.Name, ref.Key)
			}
		case from.SecretKeyRef != nil:
			ref := from.SecretKeyRef
			sec, err := cs.Secrets(w.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil && !(apierrors.IsNotFound(err) && optional(ref.Optional)) {
				return nil, fmt.Errorf("env %s: secret %s: %w", e.Name, ref.Name, err)
			}
			var data map[string][]byte
			if sec != nil {
				data = sec.Data
			}
			if v, ok := data[ref.Key]; ok {
				env[e.Name] = string(v)
			} else if err == nil && !optional(ref.Optional) {
				return nil, fmt.Errorf("env %s: secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
		}
	}
	for n, v := range env {
		nv, err := k.rewriteAddress(ctx, w.namespace, n, v)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", n, err)
		}
		env[n] = nv
	}
	return env, nil
}

// rewriteAddress replaces an in-cluster Service address in a flag value
// or variable value (name: the flag or variable)
// (http://svc.ns.svc.cluster.local., svc.ns.svc:80, svc:6379) by the
// loopback address standing for it. Values that name no Service are kept.
func (k *Kubelet) rewriteAddress(ctx context.Context, namespace, name, value string) (string, error) {
	scheme, rest := "", value
	if i := strings.Index(value, "://"); i >= 0 {
		scheme, rest = value[:i+3], value[i+3:]
	}
	path := ""
	if i := strings.Index(rest, "/"); i >= 0 {
		rest, path = rest[:i], rest[i:]
	}
	host, port := rest, 0
	if h, p, err := net.SplitHostPort(rest); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return value, nil
		}
		host, port = h, n
	}
	host = strings.TrimSuffix(host, ".")
	labels := strings.Split(host, ".")
	svc, ns := labels[0], namespace
	// An address has a scheme or a port, or is the value of a flag or
	// variable named for an address (source-controller's
	// --storage-adv-addr); another bare host name is a name (the DNS name a
	// webhook's certificate is checked against, --dns-name), not a place to
	// dial.
	inCluster := len(labels) >= 3 && labels[2] == "svc" && (scheme != "" || port != 0 || namesAddress(name))
	switch {
	case inCluster:
		ns = labels[1]
	case len(labels) == 1 && (scheme != "" || port != 0):
	default:
		return value, nil
	}
	addr, err := k.serviceAddr(ctx, ns, svc, port)
	if err != nil {
		if inCluster {
			// Not there yet (Helm creates a chart's objects one by one):
			// the next sync tries again, rather than leave the program
			// with an address nothing answers.
			return "", fmt.Errorf("service address %s: %w", value, err)
		}
		return value, nil
	}
	return scheme + addr + path, nil
}

// namesAddress says whether a flag or variable name is for an address.
func namesAddress(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"addr", "url", "server", "endpoint", "host"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// start runs the program for workload w's container c.
func (k *Kubelet) start(ctx context.Context, w workload, c corev1.Container, prog program) (*hostPod, error) {
	env, err := k.containerEnv(ctx, w, c)
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range args {
		args[i] = expand(a, env)
	}
	name := w.name
	bin := ""
	switch {
	case prog.redis:
		p, err := RedisServer()
		if err != nil {
			return nil, err
		}
		bin = p
		// The image's entrypoint is redis-server: the args are its own.
		if len(args) > 0 && strings.HasSuffix(args[0], "redis-server") {
			args = args[1:]
		}
	case prog.binary == argoCDBinary:
		if err := k.argoCDBin(ctx); err != nil {
			return nil, err
		}
		// The first argument names the component (/usr/local/bin/argocd-repo-server).
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return nil, fmt.Errorf("argocd container %s has no component in its command", c.Name)
		}
		comp := filepath.Base(args[0])
		sub, ok := argoCDComponents[comp]
		if !ok {
			return nil, fmt.Errorf("argocd component %s has no host program", comp)
		}
		args = args[1:]
		prog.listens, prog.set = sub.listens, sub.set
		k.mu.Lock()
		bin = filepath.Join(k.binDir, comp)
		k.mu.Unlock()
	default:
		p, err := Binary(ctx, prog.binary)
		if err != nil {
			return nil, err
		}
		bin = p
		if prog.subcommands != nil {
			sub := ""
			if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
				sub = args[0]
			}
			sp, ok := prog.subcommands[sub]
			if !ok {
				return nil, fmt.Errorf("%s %q has no host program", prog.binary, sub)
			}
			prog.listens, prog.set = sp.listens, sp.set
		}
	}

	// Flags the kubelet sets itself.
	set := map[string]string{}
	for f, v := range prog.set {
		set[f] = v
	}
	backends := map[int32]int{}
	for _, l := range prog.listens {
		hp, err := FreePort()
		if err != nil {
			return nil, err
		}
		backends[l.port] = hp
		if l.portOnly {
			set[l.flag] = strconv.Itoa(hp)
		} else {
			set[l.flag] = "127.0.0.1:" + strconv.Itoa(hp)
		}
	}
	// One directory per program: during a rollout two run side by side.
	work := filepath.Join(k.workDir, w.namespace+"-"+w.name+"-"+templateHash(w))
	if prog.storage {
		set["storage-path"] = filepath.Join(work, "storage")
		if err := os.MkdirAll(set["storage-path"], 0o755); err != nil {
			return nil, err
		}
	}
	vols, err := k.mountVolumes(ctx, w, c, filepath.Join(work, "volumes"))
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := vols.rewrite(args[i])
		if strings.HasPrefix(a, "-") {
			f, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if _, ok := set[f]; ok {
				// --flag value: the value goes too.
				if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					i++
				}
				continue
			}
			if hasValue {
				nv, err := k.rewriteAddress(ctx, w.namespace, f, v)
				if err != nil {
					return nil, fmt.Errorf("flag %s: %w", f, err)
				}
				a = a[:len(a)-len(v)] + nv
			}
		} else if i > 0 && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") {
			// The value of a --flag value pair.
			nv, err := k.rewriteAddress(ctx, w.namespace, args[i-1], a)
			if err != nil {
				return nil, fmt.Errorf("flag %s: %w", args[i-1], err)
			}
			a = nv
		}
		out = append(out, a)
	}
	flags := make([]string, 0, len(set))
	for f := range set {
		flags = append(flags, f)
	}
	sort.Strings(flags)
	for _, f := range flags {
		if prog.redis {
			out = append(out, "--"+f, set[f])
		} else {
			out = append(out, "--"+f+"="+set[f])
		}
	}
	if prog.redis {
		hp, err := FreePort()
		if err != nil {
			return nil, err
		}
		port := int32(6379)
		if len(c.Ports) > 0 {
			port = c.Ports[0].ContainerPort
		}
		backends[port] = hp
		out = append(out, "--port", strconv.Itoa(hp), "--bind", "127.0.0.1", "--protected-mode", "no")
	}

	tmp := filepath.Join(work, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	environ := []string{"HOME=" + work, "TMPDIR=" + tmp}
	for n, v := range env {
		environ = append(environ, n+"="+vols.rewrite(v))
	}
	k.mu.Lock()
	binDir := k.binDir
	k.mu.Unlock()
	if binDir != "" {
		environ = append(environ, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	if prog.binary == argoCDBinary {
		// GPG off; the askpass socket (by default /tmp/reposerver-ask-pass.sock,
		// shared by every repo-server on the host) per program, in a folder
		// with a short path (a unix socket's path is at most 107 bytes).
		sum := sha256.Sum256([]byte(work))
		environ = append(environ, "ARGOCD_GPG_ENABLED=false", "ARGOCD_ASK_PASS_SOCK="+filepath.Join(k.sockDir, hex.EncodeToString(sum[:6])+".sock"))
	}
	sa := w.template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	asSA := !prog.redis && (w.template.Spec.AutomountServiceAccountToken == nil || *w.template.Spec.AutomountServiceAccountToken)
	if asSA {
		if _, err := k.cp.Client().CoreV1().ServiceAccounts(w.namespace).Get(ctx, sa, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("serviceaccount %s/%s: %w", w.namespace, sa, err)
		}
		kubeconfig, err := k.cp.ServiceAccountKubeconfig(ctx, w.namespace, sa)
		if err != nil {
			return nil, err
		}
		// In-cluster clients (Argo CD's in-cluster destination) use it too.
		environ = append(environ, "KUBECONFIG="+kubeconfig, "ARGOCD_FAKE_IN_CLUSTER=true")
	}
	if prog.inCluster {
		if !asSA {
			return nil, fmt.Errorf("%s does not mount a ServiceAccount token, and %s reads nothing else", w.key(), filepath.Base(bin))
		}
		saDir := filepath.Join(work, "serviceaccount")
		token, err := k.cp.ServiceAccountToken(ctx, w.namespace, sa)
		if err != nil {
			return nil, err
		}
		if err := writeFiles(saDir, map[string][]byte{"token": []byte(token), "ca.crt": k.cp.CAPEM(), "namespace": []byte(w.namespace)}); err != nil {
			return nil, err
		}
		environ = append(environ, "KUBERNETES_SERVICE_HOST="+k.cp.KubernetesServiceIP().String(), "KUBERNETES_SERVICE_PORT=443", "GROUNDWORK_SA_DIR="+saDir)
		// A mount namespace of its own: a tmpfs over /run (so nothing is
		// created on the host) holding the pod's token folder.
		out = append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c",
			`mount -t tmpfs tmpfs /run && mkdir -p ` + saMountPath + ` && mount --bind "$GROUNDWORK_SA_DIR" ` + saMountPath + ` && exec "$0" "$@"`, bin}, out...)
		if bin, err = exec.LookPath("unshare"); err != nil {
			return nil, fmt.Errorf("%s runs in a mount namespace of its own: %w (Debian: util-linux)", w.key(), err)
		}
	}
	ready, err := k.readiness(w, c, backends)
	if err != nil {
		return nil, err
	}
	who := "no token"
	if asSA {
		who = "serviceaccount " + sa
	}
	k.logf(name, "kubelet: starting %s for %s %s (uid %s) as %s", filepath.Base(bin), w.kind, w.key(), w.uid, who)
	p, err := startProcess(name, k.logDir, bin, out, environ)
	if err != nil {
		return nil, err
	}
	return &hostPod{w: w, proc: p, ready: ready, started: time.Now(), backends: backends, volumes: vols}, nil
}

// saMountPath is where a pod's ServiceAccount token is mounted (under /run,
// which /var/run links to).
const saMountPath = "/run/secrets/kubernetes.io/serviceaccount"

// writeFiles writes files into dir atomically (each through a temporary file
// and a rename), leaving files that did not change untouched.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

// readiness turns the container's readiness probe into a check on the host
// port standing for the probed port; without a probe a running program is
// ready.
func (k *Kubelet) readiness(w workload, c corev1.Container, backends map[int32]int) (func(context.Context) error, error) {
	probe := c.ReadinessProbe
	if probe == nil {
		return func(context.Context) error { return nil }, nil
	}
	var ref intstr.IntOrString
	switch {
	case probe.HTTPGet != nil:
		ref = probe.HTTPGet.Port
	case probe.TCPSocket != nil:
		ref = probe.TCPSocket.Port
	default:
		return func(context.Context) error { return nil }, nil
	}
	port, ok := containerPort(c, ref)
	if !ok {
		return nil, fmt.Errorf("readiness probe of %s names port %s, which the container does not declare", w.key(), ref.String())
	}
	hp, ok := backends[port]
	if !ok {
		return nil, fmt.Errorf("readiness probe of %s names port %d, on which its program does not listen", w.key(), port)
	}
	if probe.TCPSocket != nil {
		return tcpReady(hp), nil
	}
	scheme := "http"
	if probe.HTTPGet.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	return httpReady(scheme + "://127.0.0.1:" + strconv.Itoa(hp) + probe.HTTPGet.Path), nil
}

// argoCDBin prepares a directory of Argo CD's names (the multi-call binary
// acts by the name it is run as; argocd is git's askpass helper) and the
// helm and kustomize binaries the repo-server runs.
func (k *Kubelet) argoCDBin(ctx context.Context) error {
	k.binOnce.Do(func() {
		dir := filepath.Join(k.workDir, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			k.binErr = err
			return
		}
		multi, err := Binary(ctx, argoCDBinary)
		if err != nil {
			k.binErr = err
			return
		}
		links := map[string]string{"argocd": multi}
		for n := range argoCDComponents {
			links[n] = multi
		}
		for _, n := range []string{"helm", "kustomize"} {
			p, err := Binary(ctx, n)
			if err != nil {
				k.binErr = err
				return
			}
			links[n] = p
		}
		for n, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, n)); err != nil {
				k.binErr = err
				return
			}
		}
		k.mu.Lock()
		k.binDir = dir
		k.mu.Unlock()
	})
	return k.binErr
}

func (k *Kubelet) stop(key string) {
	k.mu.Lock()
	p := k.running[key]
	delete(k.running, key)
	k.mu.Unlock()
	if p == nil {
		return
	}
	k.logf(p.w.name, "kubelet: stopping %s", key)
	for port := range p.backends {
		if e, err := k.endpoint(key, port); err == nil {
			e.route(0) // nothing listens behind it any more
		}
	}
	p.proc.Stop(min(gracePeriod(p.w), 10*time.Second))
}

func (k *Kubelet) stopAll() {
	k.mu.Lock()
	keys := make([]string, 0, len(k.running))
	for key := range k.running {
		keys = append(keys, key)
	}
	k.mu.Unlock()
	for _, key := range keys {
		k.stop(key)
	}
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

// httpReady is an HTTP readiness probe as the kubelet makes it: redirects
// followed (argocd-server sends plain HTTP to HTTPS), certificates not
// verified.
func httpReady(url string) func(context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // as the kubelet's probes
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
