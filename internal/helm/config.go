package helm

import (
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// NewConfiguration returns a Helm action configuration for the cluster of a
// kubeconfig and context ("" for the current one), keeping releases in
// Secrets of namespace. logf receives Helm's debug lines (nil drops them).
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
	return cfg, nil
}
