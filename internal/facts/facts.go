package facts

import (
	"path/filepath"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The label groundwork puts on what it creates in a cluster.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "groundwork"
)

// Names of what groundwork creates in the cluster.
const (
	// AgeSecret holds the age identity (SOPS) in the reconciler's
	// namespace, under AgeSecretKey.
	AgeSecret    = "sops-age"
	AgeSecretKey = "age.agekey"
	// AgeSecretNextKey holds, beside AgeSecretKey, the new key of a
	// rotation under way (keys rotate keeps it in the key file's path
	// with NextKeySuffix until it finishes).
	AgeSecretNextKey = "rotation-next.agekey"
	NextKeySuffix    = ".next"
	// CredentialsSecret holds the Git credentials Flux's GitRepository
	// reads (Argo CD's repository Secret is named per environment by its
	// engine).
	CredentialsSecret = "flux-system"
	// ExpiryNamespace and ExpiryConfigMap record an ephemeral instance's
	// expiry, for gc.
	ExpiryNamespace = "groundwork-system"
	ExpiryConfigMap = "groundwork-expiry"
	// SealedSecretsName is the Sealed Secrets controller's name
	// (kubeseal's default).
	SealedSecretsName = "sealed-secrets-controller"
	// ClusterSecretStore is External Secrets' store groundwork creates.
	ClusterSecretStore = "aws-secrets-manager"
)

// Files in the state directory (the journal's is the actions package's).
const (
	KubeconfigFile = "kubeconfig"
	TerraformDir   = "terraform"
)

// StateDir is the state directory of env: override when given (the
// --state-dir flag), else .groundwork/<environment> next to the
// environment's file.
func StateDir(env *spec.Environment, override string) string {
	if override != "" {
		return override
	}
	return filepath.Join(filepath.Dir(env.File), ".groundwork", env.Name)
}

// Kubeconfig is where the environment's kubeconfig is: the spec's for an
// existing cluster, the state directory's for one groundwork created or
// adopted by name (an existing EKS cluster).
func Kubeconfig(env *spec.Environment, stateDir string) (path, kubeContext string) {
	if e := env.Cluster.Existing; e != nil && e.EKS == nil {
		return e.Kubeconfig, e.Context
	}
	return filepath.Join(stateDir, KubeconfigFile), ""
}

// Terraform is the Terraform working directory of a cloud cluster.
func Terraform(stateDir string) string { return filepath.Join(stateDir, TerraformDir) }

// ReconcilerRelease is the name and namespace of the reconciler's Helm
// release: named like the chart, as the object in Git that takes it over
// (Flux's HelmRelease, Argo CD's own Application) names it.
func ReconcilerRelease(env *spec.Environment) (name, namespace string) {
	return env.GitOps.Chart.Name, env.GitOps.Namespace
}

// RootApplication is the Argo CD Application of the environment's app of
// apps.
func RootApplication(env *spec.Environment) string { return env.Name + "-root" }
