package up

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/engine"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Names of the secrets integrations' objects.
const (
	SealingKeySecret   = "groundwork-sealing-key"
	SealedSecretsName  = "sealed-secrets-controller" // kubeseal's default controller name
	ClusterSecretStore = "aws-secrets-manager"
)

// SecretsRelease is the Helm release of the Sealed Secrets or External
// Secrets controller, with groundwork's values under the spec's. identity
// is the cloud identity the cluster's Terraform module created for External
// Secrets Operator (empty when there is none): the controller's
// ServiceAccount is bound to it as the cloud expects, unless the spec names
// a role_arn of its own.
func SecretsRelease(env *spec.Environment, identity string) helm.Release {
	s := env.Secrets
	vals := map[string]any{}
	switch s.Provider {
	case spec.SecretsSealedSecrets:
		vals["fullnameOverride"] = SealedSecretsName
	case spec.SecretsExternalSecrets:
		vals["installCRDs"] = true
		if x := s.ExternalStore; x != nil && x.RoleARN != "" {
			identity = x.RoleARN
		}
		workloadIdentity(vals, env.Cluster.Provider, identity)
	}
	for k, v := range s.Values {
		vals[k] = v
	}
	return helm.Release{Name: s.Chart.Name, Namespace: s.Namespace, Chart: s.Chart, Version: s.Version, Values: vals, CreateNamespace: true}
}

// workloadIdentity binds the controller's ServiceAccount to a cloud
// identity: IRSA on EKS (a role ARN), Workload Identity on GKE (a Google
// service account) and Azure Workload Identity on AKS (a client id, and the
// pod label its webhook looks for).
func workloadIdentity(vals map[string]any, provider, identity string) {
	if identity == "" {
		return
	}
	key := "eks.amazonaws.com/role-arn" // a role_arn of the spec's, on any cluster
	switch provider {
	case spec.ProviderGKE:
		key = "iam.gke.io/gcp-service-account"
	case spec.ProviderAKS:
		key = "azure.workload.identity/client-id"
		vals["podLabels"] = map[string]any{"azure.workload.identity/use": "true"}
	}
	vals["serviceAccount"] = map[string]any{"annotations": map[string]any{key: identity}}
}

// externalSecretsIdentity is the identity the cluster step read from the
// module's outputs (recorded in the journal), if any.
func (r *Run) externalSecretsIdentity() string {
	if r.opts.Journal == nil {
		return ""
	}
	v, _ := r.opts.Journal.Output(plan.StepCluster, "external_secrets_identity")
	return v
}

// sealingKey loads the sealing key pair, creating it in the store on up
// (rebuild loads it in Preflight and never creates one).
func (r *Run) sealingKey() error {
	if r.sealing != nil {
		return nil
	}
	kp, created, err := sealing.LoadOrCreate(r.env().Secrets.KeyStore.Path, r.opts.Now())
	if err != nil {
		return err
	}
	if created {
		r.opts.Logf("created the sealing key pair of %s in %s", r.env().Name, r.env().Secrets.KeyStore.Path)
	}
	r.sealing = kp
	return nil
}

// sealingSecret is the stored key pair as the controller's active key.
func (r *Run) sealingSecret() *unstructured.Unstructured {
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: r.env().Secrets.Namespace, Name: SealingKeySecret,
			Labels: map[string]string{sealing.KeyLabel: "active", "app.kubernetes.io/managed-by": "groundwork"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: r.sealing.CertPEM, corev1.TLSPrivateKeyKey: r.sealing.KeyPEM},
	}
	return toUnstructured(s)
}

// applySealedSecrets puts the sealing key in place before the controller
// starts (it adopts keys labelled active at startup), then installs it.
func (r *Run) applySealedSecrets(ctx context.Context) error {
	if err := r.sealingKey(); err != nil {
		return err
	}
	ns := toUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: r.env().Secrets.Namespace}})
	changed, err := r.kube.ApplyAll(ctx, []*unstructured.Unstructured{ns, r.sealingSecret()})
	if err != nil {
		return err
	}
	out, err := r.ensureRelease(ctx, SecretsRelease(r.env(), ""))
	if err != nil {
		return err
	}
	if !changed && out == helm.Unchanged {
		return engine.NoChange
	}
	return nil
}

// applyExternalSecrets installs External Secrets Operator and the cluster
// secret store it reads from.
func (r *Run) applyExternalSecrets(ctx context.Context) error {
	out, err := r.ensureRelease(ctx, SecretsRelease(r.env(), r.externalSecretsIdentity()))
	if err != nil {
		return err
	}
	changed, err := r.kube.Apply(ctx, ClusterSecretStoreObject(r.env()))
	if err != nil {
		return fmt.Errorf("%w (External Secrets Operator %s must serve external-secrets.io/v1)", err, r.env().Secrets.Version)
	}
	if !changed && out == helm.Unchanged {
		return engine.NoChange
	}
	return nil
}

// ClusterSecretStoreObject is the store External Secrets reads AWS Secrets
// Manager through, authenticated as the controller's ServiceAccount (IRSA or
// Pod Identity on EKS).
func ClusterSecretStoreObject(env *spec.Environment) *unstructured.Unstructured {
	x := env.Secrets.ExternalStore
	aws := map[string]any{"service": "SecretsManager", "region": x.Region}
	if x.RoleARN != "" {
		aws["role"] = x.RoleARN
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1",
		"kind":       "ClusterSecretStore",
		"metadata":   map[string]any{"name": ClusterSecretStore, "labels": map[string]any{"app.kubernetes.io/managed-by": "groundwork"}},
		"spec":       map[string]any{"provider": map[string]any{"aws": aws}},
	}}
}
