package argocd

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/kube"
)

// Files and annotations groundwork relies on.
const (
	// RootFile is the root Application, relative to the environment's
	// folder in the repository.
	RootFile = "applications/root.yaml"
	// SelfFile is the Application by which Argo CD manages itself.
	SelfFile = "applications/argocd.yaml"
	// SelfApplication is the name of that Application.
	SelfApplication = "argocd"
	// AppsDir holds one folder per app; each becomes an Application.
	AppsDir = "apps"
	// RefreshAnnotation asks the application controller to compare an
	// Application with Git now (the value is the kind of refresh).
	RefreshAnnotation = "argocd.argoproj.io/refresh"
	// SecretTypeLabel marks Secrets Argo CD reads as repositories.
	SecretTypeLabel = "argocd.argoproj.io/secret-type"
	// DefaultProject is the AppProject groundwork's Applications use.
	DefaultProject = "default"
)

// API kinds.
var (
	ApplicationKind    = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}
	ApplicationSetKind = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ApplicationSet"}
	AppProjectKind     = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AppProject"}
)

// RepositorySecretName is the name of the repository credentials Secret of
// an environment.
func RepositorySecretName(env string) string { return "repo-" + env }

// RepositorySecret is the Secret Argo CD reads the repository's URL and
// credentials from (a "repository" Secret: token auth as username and
// password, or an SSH private key).
func RepositorySecret(namespace, env, url string, c *gitrepo.Credentials) *unstructured.Unstructured {
	data := map[string]string{"type": "git", "url": url, "name": env}
	switch {
	case c == nil:
	case c.Token != "":
		user := c.Username
		if user == "" {
			user = "git"
		}
		data["username"], data["password"] = user, c.Token
	default:
		data["sshPrivateKey"] = string(c.SSHKey)
	}
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": RepositorySecretName(env), "namespace": namespace,
			"labels": map[string]any{SecretTypeLabel: "repository", "app.kubernetes.io/managed-by": "groundwork"},
		},
		"type": "Opaque",
		"data": enc,
	}}
}

// DefaultAppProject is the "default" AppProject as argocd-server creates it
// at startup (any source, any destination). up creates it when missing,
// for installations that run without argocd-server, and never changes an
// existing one.
func DefaultAppProject(namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
		"metadata": map[string]any{"name": DefaultProject, "namespace": namespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}}
}

// EnsureDefaultProject creates the default AppProject if it is missing.
// It reports whether it created it.
func EnsureDefaultProject(ctx context.Context, c *kube.Client, namespace string) (bool, error) {
	ri, err := c.Resource(AppProjectKind, namespace)
	if err != nil {
		return false, fmt.Errorf("the AppProject API is not served (is Argo CD installed?): %w", err)
	}
	if _, err := ri.Get(ctx, DefaultProject, metav1.GetOptions{}); err == nil {
		return false, nil
	} else if !apierrors.IsNotFound(err) {
		return false, err
	}
	_, err = ri.Create(ctx, DefaultAppProject(namespace), metav1.CreateOptions{FieldManager: kube.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}

// RootObjects decodes the root Application from the repository's files
// (rendered or read from Git), keyed by path.
func RootObjects(files map[string][]byte, repoPath string) ([]*unstructured.Unstructured, error) {
	p := path.Join(repoPath, RootFile)
	b, ok := files[p]
	if !ok {
		return nil, fmt.Errorf("the repository has no %s", p)
	}
	objs, err := kube.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return objs, nil
}

// Expected is what the wait requires: every Application the files under
// repoPath declare (in applications/) and one per folder under apps/ (the
// ApplicationSet's git directory generator makes them).
func Expected(files map[string][]byte, repoPath, namespace string) []string {
	seen := map[string]bool{}
	appsRoot := path.Join(repoPath, AppsDir) + "/"
	for p, b := range files {
		if rest, ok := strings.CutPrefix(p, appsRoot); ok {
			if i := strings.IndexByte(rest, '/'); i > 0 {
				seen[rest[:i]] = true
			}
			continue
		}
		if path.Dir(p) != path.Join(repoPath, "applications") || !strings.HasSuffix(p, ".yaml") {
			continue
		}
		objs, err := kube.Decode(b)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if o.GroupVersionKind() == ApplicationKind && (o.GetNamespace() == "" || o.GetNamespace() == namespace) {
				seen[o.GetName()] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ApplicationController is the name of the application controller
// StatefulSet of the upstream argo-cd chart installed as release: the chart
// names its workloads "<release>-argocd-<component>", or
// "<release>-<component>" when the release name already says argocd.
func ApplicationController(release string) string {
	if release == "" {
		release = "argo-cd"
	}
	prefix := release
	if !strings.Contains(release, "argocd") {
		prefix += "-argocd"
	}
	return prefix + "-application-controller"
}
