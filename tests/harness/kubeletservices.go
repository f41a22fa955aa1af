package harness

import (
	"context"
	"net"
	"strconv"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serviceProxy listens on a Service's ClusterIP and port (a loopback
// address: see ControlPlane.ServiceNet) and forwards to the stable endpoint
// of the workload behind it: the host's kube-proxy. The API server reaches
// admission webhooks this way (it dials the webhook Service's ClusterIP).
type serviceProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target *endpoint // nil: no workload with a program behind the Service
}

func (sp *serviceProxy) backend() string {
	sp.mu.Lock()
	e := sp.target
	sp.mu.Unlock()
	if e == nil {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(e.port)
}

// syncServices keeps a proxy on every Service port whose selector matches a
// workload the kubelet runs a program for (running: their keys), and closes
// the proxies of Services that went.
func (k *Kubelet) syncServices(ctx context.Context, ws []workload, running map[string]bool) {
	svcs, err := k.cp.Client().CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	serviceNet := k.cp.ServiceNet()
	keep := map[string]bool{}
	for _, svc := range svcs.Items {
		ip := net.ParseIP(svc.Spec.ClusterIP)
		if ip == nil || !serviceNet.Contains(ip) || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, sp := range svc.Spec.Ports {
			var target *endpoint
			for _, w := range ws {
				if w.namespace != svc.Namespace || !running[w.key()] || !sel.Matches(labels.Set(w.template.Labels)) {
					continue
				}
				ref := sp.TargetPort
				if ref.Type == intstr.Int && ref.IntVal == 0 {
					ref = intstr.FromInt32(sp.Port)
				}
				for _, c := range w.template.Spec.Containers {
					if cport, ok := containerPort(c, ref); ok {
						if e, err := k.endpoint(w.key(), cport); err == nil {
							target = e
						}
						break
					}
				}
				if target != nil {
					break
				}
			}
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(sp.Port)))
			key := svc.Namespace + "/" + svc.Name + "/" + addr
			keep[key] = true
			k.mu.Lock()
			p := k.proxies[key]
			k.mu.Unlock()
			if p == nil {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					k.sayOnce("proxy/"+key, "services", "kubelet: cannot proxy Service %s/%s at %s: %v", svc.Namespace, svc.Name, addr, err)
					continue
				}
				p = &serviceProxy{ln: ln}
				go serveTCPProxy(ln, p.backend)
				k.mu.Lock()
				k.proxies[key] = p
				k.mu.Unlock()
				k.logf("services", "kubelet: proxying Service %s/%s at %s", svc.Namespace, svc.Name, addr)
			}
			p.mu.Lock()
			p.target = target
			p.mu.Unlock()
		}
	}
	k.mu.Lock()
	for key, p := range k.proxies {
		if !keep[key] {
			_ = p.ln.Close()
			delete(k.proxies, key)
		}
	}
	k.mu.Unlock()
}
