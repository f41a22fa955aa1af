package harness

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podVolumes are the Secret, ConfigMap and emptyDir volumes a container
// mounts, kept as folders on the host. A program sees them where its args
// and env name the mount path (the kubelet rewrites the path to the folder),
// and the kubelet refreshes Secret and ConfigMap contents as a real kubelet
// does (External Secrets' webhook reads the certificate its cert controller
// writes into a Secret it mounts).
type podVolumes struct {
	namespace string
	mounts    []hostMount

	mu        sync.Mutex
	lastErr   string
	refreshed time.Time
}

// volumeRefresh is how often the kubelet rewrites a running program's Secret
// and ConfigMap volumes (a real kubelet takes up to a minute; the sync loop
// runs every 500ms, and a GET per volume per pass would load the API server
// for nothing).
const volumeRefresh = 2 * time.Second

// due says whether the volumes are to be refreshed now, and if so marks
// them refreshed.
func (pv *podVolumes) due(now time.Time) bool {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if now.Sub(pv.refreshed) < volumeRefresh {
		return false
	}
	pv.refreshed = now
	return true
}

type hostMount struct {
	mountPath string // in the container
	dir       string // on the host: the volume's folder (with subPath)
	volume    corev1.Volume
	volDir    string // the volume's folder
}

// mountVolumes prepares the host folders of c's volume mounts under root.
// A Secret or ConfigMap that does not exist yet (and is not optional) is an
// error: the program starts once it does, as a pod waits in
// ContainerCreating.
func (k *Kubelet) mountVolumes(ctx context.Context, w workload, c corev1.Container, root string) (*podVolumes, error) {
	pv := &podVolumes{namespace: w.namespace}
	for _, m := range c.VolumeMounts {
		var vol *corev1.Volume
		for i := range w.template.Spec.Volumes {
			if w.template.Spec.Volumes[i].Name == m.Name {
				vol = &w.template.Spec.Volumes[i]
			}
		}
		if vol == nil || (vol.Secret == nil && vol.ConfigMap == nil && vol.EmptyDir == nil) {
			continue // projected tokens, host paths, PVCs: nothing on the host
		}
		volDir := filepath.Join(root, vol.Name)
		dir := volDir
		if m.SubPath != "" {
			dir = filepath.Join(volDir, filepath.FromSlash(path.Clean("/"+m.SubPath)))
		}
		pv.mounts = append(pv.mounts, hostMount{mountPath: path.Clean(m.MountPath), dir: dir, volume: *vol, volDir: volDir})
	}
	if err := k.refreshVolumes(ctx, pv); err != nil {
		return nil, err
	}
	pv.refreshed = time.Now()
	return pv, nil
}

// refreshVolumes writes the current contents of the Secrets and ConfigMaps
// into their folders.
func (k *Kubelet) refreshVolumes(ctx context.Context, pv *podVolumes) error {
	if pv == nil {
		return nil
	}
	cs := k.cp.Client()
	for _, m := range pv.mounts {
		files := map[string][]byte{}
		var items []corev1.KeyToPath
		var optional bool
		switch v := m.volume; {
		case v.EmptyDir != nil:
		case v.Secret != nil:
			items, optional = v.Secret.Items, v.Secret.Optional != nil && *v.Secret.Optional
			s, err := cs.CoreV1().Secrets(pv.namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional {
				break
			}
			if err != nil {
				return fmt.Errorf("volume %s: secret %s/%s: %w", v.Name, pv.namespace, v.Secret.SecretName, err)
			}
			files = s.Data
		case v.ConfigMap != nil:
			items, optional = v.ConfigMap.Items, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional
			cm, err := cs.CoreV1().ConfigMaps(pv.namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) && optional {
				break
			}
			if err != nil {
				return fmt.Errorf("volume %s: configmap %s/%s: %w", v.Name, pv.namespace, v.ConfigMap.Name, err)
			}
			for key, val := range cm.Data {
				files[key] = []byte(val)
			}
			for key, val := range cm.BinaryData {
				files[key] = val
			}
		}
		if len(items) > 0 {
			picked := map[string][]byte{}
			for _, it := range items {
				if data, ok := files[it.Key]; ok {
					picked[filepath.FromSlash(path.Clean("/" + it.Path))[1:]] = data
				}
			}
			files = picked
		}
		if err := writeFiles(m.volDir, files); err != nil {
			return err
		}
	}
	return nil
}

// rewrite replaces the container mount paths in s (a flag, a flag value or
// an env value) by their host folders.
func (pv *podVolumes) rewrite(s string) string {
	if pv == nil {
		return s
	}
	for _, m := range pv.mounts {
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, m.mountPath)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(m.mountPath)
			before := byte('=')
			if i > 0 {
				before = rest[i-1]
			}
			boundary := strings.IndexByte("=,: ", before) >= 0 && (end == len(rest) || rest[end] == '/' || rest[end] == ',')
			b.WriteString(rest[:i])
			if boundary {
				b.WriteString(m.dir)
			} else {
				b.WriteString(m.mountPath)
			}
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}

// noteRefreshError logs a failed refresh once per distinct error.
func (k *Kubelet) noteRefreshError(p *hostPod, err error) {
	p.volumes.mu.Lock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	changed := msg != p.volumes.lastErr
	p.volumes.lastErr = msg
	p.volumes.mu.Unlock()
	if changed && err != nil {
		k.logf(p.w.name, "kubelet: refreshing the volumes of %s: %v", p.w.key(), err)
	}
}
