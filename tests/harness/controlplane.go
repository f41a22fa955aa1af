package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// KwokNodeName is the name of the fake Node the control plane registers.
const KwokNodeName = "kwok-node-0"

// ControlPlane is a Kubernetes control plane on loopback: etcd,
// kube-apiserver (TLS, RBAC, service-account tokens), kube-controller-manager
// (without node-lifecycle), kube-scheduler and kwok with one fake Node, so
// Deployments get Running and Ready pods.
type ControlPlane struct {
	t      testing.TB
	dir    string
	logDir string
	pki    *pki

	etcdClientPort, etcdPeerPort int
	apiPort, kcmPort, schedPort  int
	kwokPort                     int

	// serviceNet is the cluster's Service network, a /16 of loopback
	// (127.N.0.0/16, N claimed per control plane): every ClusterIP is an
	// address the host can bind, so the host kubelet can proxy Services at
	// their ClusterIPs (kube-proxy style) and the API server, which dials a
	// webhook or aggregated API at its Service's ClusterIP, reaches the
	// program behind it. apiProxy holds 127.N.0.1:443, the "kubernetes"
	// Service, proxied to the API server: it is the claim on N.
	serviceNet net.IPNet
	apiProxy   net.Listener

	adminKubeconfig string
	restConfig      *rest.Config
	client          kubernetes.Interface

	mu        sync.Mutex
	procs     []*Process
	wipeHooks []wipeHook
	saSeq     int
	stopJobs  func()
	jobRunner JobRunner
	jobPods   map[types.UID]bool // claimed by the runner
}

// StartControlPlane starts a fresh control plane and registers its teardown
// with t.Cleanup. Missing binaries are built first (see Binary).
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := Binary(ctx, b); err != nil {
			t.Fatalf("test binary %s: %v", b, err)
		}
	}
	start := time.Now()
	cp := &ControlPlane{t: t, dir: t.TempDir(), logDir: newLogDir(t, "controlplane")}
	var err error
	if err = os.MkdirAll(filepath.Join(cp.dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	if cp.pki, err = newPKI(filepath.Join(cp.dir, "pki")); err != nil {
		t.Fatalf("creating cluster CA: %v", err)
	}
	t.Cleanup(cp.stopAll)
	if err := cp.claimServiceNet(); err != nil {
		t.Fatalf("claiming a loopback Service network: %v", err)
	}
	t.Cleanup(func() { _ = cp.apiProxy.Close() })
	for attempt := 1; ; attempt++ {
		for _, p := range []*int{&cp.etcdClientPort, &cp.etcdPeerPort, &cp.apiPort, &cp.kcmPort, &cp.schedPort, &cp.kwokPort} {
			*p = mustFreePort(t)
		}
		if err := cp.writeCredentials(); err != nil {
			t.Fatalf("writing control-plane credentials: %v", err)
		}
		err := cp.start(ctx)
		if err == nil {
			break
		}
		// A port picked as free can be taken by a concurrently running
		// test package before the component binds it: retry on new ports.
		if attempt < 3 && cp.portClash() {
			t.Logf("control plane start attempt %d lost a port race, retrying: %v", attempt, err)
			cp.stopAll()
			_ = os.RemoveAll(filepath.Join(cp.dir, "etcd-data"))
			continue
		}
		t.Fatalf("starting control plane: %v", err)
	}
	t.Logf("control plane up in %s (API server %s, logs %s)", time.Since(start).Round(time.Millisecond), cp.restConfig.Host, cp.logDir)
	return cp
}

// claimServiceNet picks N for the Service network 127.N.0.0/16 by binding
// 127.N.0.1:443 (the "kubernetes" Service's address, proxied to the API
// server): a control plane of another test process holds its own N.
func (cp *ControlPlane) claimServiceNet() error {
	var last error
	for _, n := range rand.Perm(200) {
		ip := net.IPv4(127, byte(n+30), 0, 1)
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "443"))
		if err != nil {
			last = err
			continue
		}
		cp.serviceNet = net.IPNet{IP: net.IPv4(127, byte(n+30), 0, 0).To4(), Mask: net.CIDRMask(16, 32)}
		cp.apiProxy = ln
		go serveTCPProxy(ln, func() string { return "127.0.0.1:" + strconv.Itoa(cp.apiPort) })
		return nil
	}
	return fmt.Errorf("no free 127.N.0.1:443 (binding port 443 needs root or CAP_NET_BIND_SERVICE): %w", last)
}

// ServiceNet is the cluster's Service network (a loopback /16).
func (cp *ControlPlane) ServiceNet() net.IPNet { return cp.serviceNet }

// KubernetesServiceIP is the ClusterIP of the "kubernetes" Service, where
// the API server answers on port 443 (as in a pod).
func (cp *ControlPlane) KubernetesServiceIP() net.IP {
	ip := cp.serviceNet.IP.To4()
	return net.IPv4(ip[0], ip[1], 0, 1)
}

// serveTCPProxy forwards each connection accepted on ln to the address
// backend returns at that moment ("" closes the connection).
func serveTCPProxy(ln net.Listener, backend func() string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			addr := backend()
			if addr == "" {
				return
			}
			b, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer b.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
			<-done
		}()
	}
}

// AdminKubeconfig returns the path of a kubeconfig for a system:masters user.
func (cp *ControlPlane) AdminKubeconfig() string { return cp.adminKubeconfig }

// RESTConfig returns a copy of the admin REST config.
func (cp *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(cp.restConfig) }

// Client returns an admin clientset.
func (cp *ControlPlane) Client() kubernetes.Interface { return cp.client }

// Server returns the API server URL.
func (cp *ControlPlane) Server() string { return cp.restConfig.Host }

// CAPEM returns the cluster CA certificate (PEM); it is stable across Wipe.
func (cp *ControlPlane) CAPEM() []byte { return cp.pki.CAPEM }

// LogDir is where every component writes its log.
func (cp *ControlPlane) LogDir() string { return cp.logDir }

// OnWipe registers hooks for Wipe: before runs before the control plane is
// stopped (stop processes that depend on the cluster), after runs once the
// fresh control plane is ready. Either may be nil.
func (cp *ControlPlane) OnWipe(before, after func()) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.wipeHooks = append(cp.wipeHooks, wipeHook{before, after})
}

type wipeHook struct{ before, after func() }

// ServiceAccountToken requests a token for ns/name via the TokenRequest
// API, valid for a day.
func (cp *ControlPlane) ServiceAccountToken(ctx context.Context, ns, name string) (string, error) {
	tr, err := cp.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token request for serviceaccount %s/%s: %w", ns, name, err)
	}
	return tr.Status.Token, nil
}

// ServiceAccountKubeconfig requests a token for ns/name via the TokenRequest
// API and writes a kubeconfig that authenticates as that ServiceAccount.
func (cp *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, ns, name string) (string, error) {
	token, err := cp.ServiceAccountToken(ctx, ns, name)
	if err != nil {
		return "", err
	}
	cp.mu.Lock()
	cp.saSeq++
	path := filepath.Join(cp.dir, fmt.Sprintf("sa-%s-%s-%d.kubeconfig", ns, name, cp.saSeq))
	cp.mu.Unlock()
	cfg := cp.kubeconfig("system:serviceaccount:"+ns+":"+name, &clientcmdapi.AuthInfo{Token: token}, ns)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", err
	}
	return path, nil
}

func (cp *ControlPlane) kubeconfig(user string, auth *clientcmdapi.AuthInfo, ns string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["groundwork-test"] = &clientcmdapi.Cluster{
		Server:                   fmt.Sprintf("https://127.0.0.1:%d", cp.apiPort),
		CertificateAuthorityData: cp.pki.CAPEM,
	}
	cfg.AuthInfos[user] = auth
	cfg.Contexts["groundwork-test"] = &clientcmdapi.Context{Cluster: "groundwork-test", AuthInfo: user, Namespace: ns}
	cfg.CurrentContext = "groundwork-test"
	return cfg
}

func (cp *ControlPlane) writeCredentials() error {
	p := cp.pki
	if _, _, err := p.issue("apiserver", "kube-apiserver", nil, true,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), cp.KubernetesServiceIP()}); err != nil {
		return err
	}
	users := []struct{ file, cn, org string }{
		{"admin", "groundwork-admin", "system:masters"},
		{"controller-manager", "system:kube-controller-manager", ""},
		{"scheduler", "system:kube-scheduler", ""},
	}
	for _, u := range users {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		certPEM, keyPEM, err := p.issue(u.file, u.cn, orgs, false, nil, nil)
		if err != nil {
			return err
		}
		cfg := cp.kubeconfig(u.cn, &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}, "default")
		if err := clientcmd.WriteToFile(*cfg, filepath.Join(cp.dir, u.file+".kubeconfig")); err != nil {
			return err
		}
	}
	cp.adminKubeconfig = filepath.Join(cp.dir, "admin.kubeconfig")
	rc, err := clientcmd.BuildConfigFromFlags("", cp.adminKubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 100, 200
	cp.restConfig = rc
	cp.client, err = kubernetes.NewForConfig(rc)
	return err
}

func (cp *ControlPlane) run(ctx context.Context, name string, args ...string) (*Process, error) {
	bin, err := Binary(ctx, name)
	if err != nil {
		return nil, err
	}
	p, err := startProcess(name, cp.logDir, bin, args, nil)
	if err != nil {
		return nil, err
	}
	cp.mu.Lock()
	cp.procs = append(cp.procs, p)
	cp.mu.Unlock()
	return p, nil
}

// kwokStartAttempts bounds the restarts of a kwok that crashed while
// starting: kwok v0.7.0 registers its CEL types (easycel v0.6.0) from
// several goroutines at once, and now and then dies of "concurrent map
// writes" in its first second, before it did anything.
const kwokStartAttempts = 3

// startKwok starts kwok, starting it again when it dies in its first
// seconds (see kwokStartAttempts); a crash after that is the control
// plane's failure as for any other process.
func (cp *ControlPlane) startKwok(ctx context.Context, config string) error {
	for attempt := 1; ; attempt++ {
		p, err := cp.run(ctx, "kwok",
			"--config="+config,
			"--kubeconfig="+cp.adminKubeconfig,
			"--manage-all-nodes=true",
			"--server-address=127.0.0.1:"+strconv.Itoa(cp.kwokPort),
			"--node-lease-duration-seconds=40",
		)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if exited, _ := p.Exited(); exited {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		exited, perr := p.Exited()
		if !exited {
			return nil
		}
		if attempt == kwokStartAttempts {
			return p.Err(perr)
		}
		cp.mu.Lock()
		cp.procs = slices.DeleteFunc(cp.procs, func(q *Process) bool { return q == p })
		cp.mu.Unlock()
	}
}

// checkProcesses returns an error if a control-plane process has exited.
func (cp *ControlPlane) checkProcesses() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range cp.procs {
		if exited, err := p.Exited(); exited {
			if err == nil {
				err = errExited
			}
			return p.Err(err)
		}
	}
	return nil
}

func (cp *ControlPlane) start(ctx context.Context) error {
	pk := cp.pki
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(cp.etcdClientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(cp.etcdPeerPort)
	if _, err := cp.run(ctx, "etcd",
		"--name=default",
		"--data-dir="+filepath.Join(cp.dir, "etcd-data"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	); err != nil {
		return err
	}
	if _, err := cp.run(ctx, "kube-apiserver", cp.apiServerArgs(etcdURL)...); err != nil {
		return err
	}
	if err := cp.waitAPIServer(ctx); err != nil {
		return err
	}
	kc := func(n string) string { return filepath.Join(cp.dir, n+".kubeconfig") }
	if _, err := cp.run(ctx, "kube-controller-manager",
		"--kubeconfig="+kc("controller-manager"),
		"--authentication-kubeconfig="+kc("controller-manager"),
		"--authorization-kubeconfig="+kc("controller-manager"),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(cp.kcmPort),
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+pk.path("sa.key"),
		"--root-ca-file="+pk.path("ca.crt"),
		"--cluster-signing-cert-file="+pk.path("ca.crt"),
		"--cluster-signing-key-file="+pk.path("ca.key"),
		"--controllers=*,-node-lifecycle-controller,-node-ipam-controller,-service-lb-controller,-cloud-node-lifecycle-controller,-persistentvolume-attach-detach-controller",
		"--concurrent-deployment-syncs=10",
		"--concurrent-replicaset-syncs=10",
		"--concurrent-gc-syncs=20",
		"--v=1",
	); err != nil {
		return err
	}
	if _, err := cp.run(ctx, "kube-scheduler",
		"--kubeconfig="+kc("scheduler"),
		"--authentication-kubeconfig="+kc("scheduler"),
		"--authorization-kubeconfig="+kc("scheduler"),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(cp.schedPort),
		"--leader-elect=false",
		"--v=1",
	); err != nil {
		return err
	}
	// kwok reads ~/.kwok/kwok.yaml by default; point it at a config of
	// ours so the user's own file cannot change the behaviour. Its pod
	// stages are kwok's defaults but pod-complete: the control plane
	// completes Job pods itself (see completeJobs), so that a host program
	// can run a Job's command first.
	stages, err := kwokPodStages()
	if err != nil {
		return err
	}
	kwokCfg := filepath.Join(cp.dir, "kwok.yaml")
	if err := os.WriteFile(kwokCfg, []byte("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n"+stages), 0o644); err != nil {
		return err
	}
	if err := cp.startKwok(ctx, kwokCfg); err != nil {
		return err
	}
	if err := cp.registerNode(ctx); err != nil {
		return err
	}
	if err := cp.waitReady(ctx); err != nil {
		return err
	}
	jctx, jcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cp.completeJobs(jctx)
	}()
	cp.mu.Lock()
	cp.stopJobs = func() { jcancel(); <-done }
	cp.mu.Unlock()
	return nil
}

func (cp *ControlPlane) apiServerArgs(etcdURL string) []string {
	pk := cp.pki
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(cp.apiPort),
		"--cert-dir=" + filepath.Join(cp.dir, "apiserver-certs"),
		"--tls-cert-file=" + pk.path("apiserver.crt"),
		"--tls-private-key-file=" + pk.path("apiserver.key"),
		"--client-ca-file=" + pk.path("ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pk.path("sa.pub"),
		"--service-account-signing-key-file=" + pk.path("sa.key"),
		"--service-cluster-ip-range=" + cp.serviceNet.String(),
		"--allow-privileged=true",
		// TaintNodesByCondition taints new nodes not-ready; only the
		// node-lifecycle controller (disabled, see below) would remove it.
		"--disable-admission-plugins=TaintNodesByCondition",
		"--profiling=false",
		"--v=1",
	}
}

// StopAPIServer stops the API server alone, as a restart of a control-plane
// node does; everything else keeps running, and clients see connections
// refused until StartAPIServer.
func (cp *ControlPlane) StopAPIServer(t testing.TB) {
	t.Helper()
	cp.mu.Lock()
	var api *Process
	procs := cp.procs[:0]
	for _, p := range cp.procs {
		if p.Name == "kube-apiserver" {
			api = p
			continue
		}
		procs = append(procs, p)
	}
	cp.procs = procs
	cp.mu.Unlock()
	if api == nil {
		t.Fatal("no API server is running")
	}
	api.Stop(10 * time.Second)
}

// StartAPIServer starts the API server stopped by StopAPIServer again, on
// the same port and with the same data, and waits until it answers.
func (cp *ControlPlane) StartAPIServer(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := cp.run(ctx, "kube-apiserver", cp.apiServerArgs("http://127.0.0.1:"+strconv.Itoa(cp.etcdClientPort))...); err != nil {
		t.Fatal(err)
	}
	if err := cp.waitAPIServer(ctx); err != nil {
		t.Fatalf("the restarted API server: %v", err)
	}
	t.Logf("API server answering again %s after its start", time.Since(start).Round(time.Millisecond))
}

func (cp *ControlPlane) waitAPIServer(ctx context.Context) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.pki.CAPEM)
	cert, err := tls.LoadX509KeyPair(cp.pki.path("admin.crt"), cp.pki.path("admin.key"))
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	defer hc.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = pollUntil(wctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := cp.checkProcesses(); err != nil {
			return false, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/readyz", cp.apiPort), nil)
		resp, err := hc.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("/readyz: %s", resp.Status)
		}
		return true, nil
	})
	var pe *ProcessError
	if errors.As(err, &pe) {
		return err
	}
	if err != nil {
		return fmt.Errorf("waiting for kube-apiserver: %w", err)
	}
	return nil
}

func (cp *ControlPlane) registerNode(ctx context.Context) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: KwokNodeName,
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl": "0",
				"kwok.x-k8s.io/node":           "fake",
			},
			Labels: map[string]string{
				"kubernetes.io/hostname": KwokNodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Allocatable: res, Capacity: res},
	}
	_, err := cp.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering kwok node: %w", err)
	}
	return nil
}

// waitReady waits for the fake node to be Ready and for the controller
// manager to have created the default ServiceAccount and root CA ConfigMap.
func (cp *ControlPlane) waitReady(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return pollUntil(wctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := cp.checkProcesses(); err != nil {
			return false, err
		}
		n, err := cp.client.CoreV1().Nodes().Get(ctx, KwokNodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false, fmt.Errorf("node %s not Ready yet", KwokNodeName)
		}
		if _, err := cp.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("default serviceaccount: %w", err)
		}
		if _, err := cp.client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("root CA configmap: %w", err)
		}
		return true, nil
	})
}

// portClash reports whether a component log mentions a port already in use.
func (cp *ControlPlane) portClash() bool {
	entries, _ := os.ReadDir(cp.logDir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(cp.logDir, e.Name()))
		if err == nil && strings.Contains(string(b), "address already in use") {
			return true
		}
	}
	return false
}

// stopAll stops every component in reverse start order.
func (cp *ControlPlane) stopAll() {
	cp.mu.Lock()
	procs := cp.procs
	cp.procs = nil
	stopJobs := cp.stopJobs
	cp.stopJobs = nil
	cp.mu.Unlock()
	if stopJobs != nil {
		stopJobs()
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(10 * time.Second)
	}
}

// Wipe simulates losing the cluster: it stops the supervised processes (via
// OnWipe hooks) and every control-plane component, deletes etcd's data and
// starts a fresh, empty control plane on the same ports with the same CA.
func (cp *ControlPlane) Wipe(t testing.TB) {
	t.Helper()
	start := time.Now()
	cp.mu.Lock()
	hooks := append([]wipeHook{}, cp.wipeHooks...)
	cp.mu.Unlock()
	for _, h := range hooks {
		if h.before != nil {
			h.before()
		}
	}
	cp.stopAll()
	if err := os.RemoveAll(filepath.Join(cp.dir, "etcd-data")); err != nil {
		t.Fatalf("deleting etcd data: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cp.start(ctx); err != nil {
		t.Fatalf("restarting wiped control plane: %v", err)
	}
	for _, h := range hooks {
		if h.after != nil {
			h.after()
		}
	}
	t.Logf("control plane wiped and restarted in %s", time.Since(start).Round(time.Millisecond))
}
