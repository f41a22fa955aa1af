package helm

import (
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// NewConfiguration returns a Helm action configuration for the cluster of a
// kubeconfig and context ("" for the current one), keeping releases in
// Secrets of namespace. logf receives Helm's debug lines (nil drops them).
// Its client waits as Helm's does, looking every WaitPoll.
func NewConfiguration(kubeconfig, kubeContext, namespace string, logf func(format string, args ...any)) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	if kubeContext != "" {
		flags.Context = &kubeContext
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", logf); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		cfg.KubeClient = &fastWaitClient{Client: kc, poll: WaitPoll}
	}
	return cfg, nil
}

// Stored reads a release's latest revision from Helm's storage in the
// cluster kubeconfig points at; nil when there is none.
func Stored(kubeconfig, kubeContext, namespace, name string, logf func(format string, args ...any)) (*release.Release, error) {
	cfg, err := NewConfiguration(kubeconfig, kubeContext, namespace, logf)
	if err != nil {
		return nil, err
	}
	current, err := action.NewGet(cfg).Run(name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Helm release %s/%s: %w", namespace, name, err)
	}
	return current, nil
}
