package up

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/helm"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/sealing"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Names of the secrets integrations' objects.
const (
	SealingKeySecret = sealing.SecretName // the first stored key; the others: sealing.Keys.SecretNameAt
)

// SecretsRelease is the Helm release of the Sealed Secrets or External
// Secrets controller, with groundwork's values under the spec's. identity
// is the cloud identity the cluster's Terraform module created for External
// Secrets Operator (empty when there is none): the controller's
// ServiceAccount is bound to it as the cloud expects, unless the spec names
// a role_arn of its own.
//
// The Sealed Secrets controller's automatic key renewal stays off
// (keyrenewperiod "0", whatever the values say; the spec refuses another
// period): a key it made on its own would never reach the key store, and
// the SealedSecrets sealed with it would be lost in a rebuild. keys rotate
// renews the key instead, by applying a new key Secret to the running
// controller: it watches its key Secrets (watchForSecrets, also forced on;
// without it the controller reads its keys only when it starts, and would
// not open what is sealed for the new key until restarted).
func SecretsRelease(env *spec.Environment, identity string) helm.Release {
	s := env.Secrets
	vals := map[string]any{}
	switch s.Provider {
	case spec.SecretsSealedSecrets:
		vals["fullnameOverride"] = facts.SealedSecretsName
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
	if s.Provider == spec.SecretsSealedSecrets {
		vals[spec.KeyRenewPeriodValue] = "0"
		vals["watchForSecrets"] = true
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

// sealingKeys loads the sealing key pairs, creating the first in the store
// on up (rebuild loads them in Preflight and never creates one).
func (r *Run) sealingKeys() error {
	if r.sealing != nil {
		return nil
	}
	k, created, err := sealing.LoadOrCreate(r.env().Secrets.KeyStore.Path, r.opts.Now())
	if err != nil {
		return err
	}
	if created {
		r.opts.Logf("created the sealing key pair of %s in %s", r.env().Name, r.env().Secrets.KeyStore.Path)
	}
	r.sealing = k
	return nil
}

// rescueSealingKeys appends to the key store every active key pair in the
// controller's namespace that it lacks: a key the controller made on its
// own while its automatic renewal was on (before groundwork turned it off)
// decrypts the SealedSecrets sealed since, and must survive a rebuild.
// It reports whether the store grew.
func (r *Run) rescueSealingKeys(ctx context.Context) (bool, error) {
	s := r.env().Secrets
	all, rescued, err := sealing.RescueReporting(ctx, r.kube.Clientset, s.Namespace, s.KeyStore.Path, r.opts.Logf)
	if err != nil {
		return false, err
	}
	if len(rescued) > 0 {
		r.sealing = all
	}
	return len(rescued) > 0, nil
}

// sealingSecrets are the stored key pairs, each as an active key of the
// controller: the first as Secret groundwork-sealing-key, the others named
// after their certificate.
func (r *Run) sealingSecrets() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, s := range r.sealing.Secrets(r.env().Secrets.Namespace) {
		out = append(out, toUnstructured(s))
	}
	return out
}

// applySealedSecrets keeps in the key store any key the cluster has and
// the store lacks, puts every stored key in place before the controller
// starts (it loads the keys labelled active at startup, and those added
// later as they come), then installs it.
func (r *Run) applySealedSecrets(ctx context.Context) error {
	keysErr := r.applySealingKeys(ctx)
	if keysErr != nil && !errors.Is(keysErr, actions.NoChange) {
		return keysErr
	}
	relErr := r.applySealedSecretsRelease(ctx)
	if relErr != nil && !errors.Is(relErr, actions.NoChange) {
		return relErr
	}
	if keysErr != nil && relErr != nil {
		return actions.NoChange
	}
	return nil
}

// applySealingKeys puts the sealing keys in the cluster: the store's keys,
// and first the store grown by any key the cluster has and it lacks.
func (r *Run) applySealingKeys(ctx context.Context) error {
	// The cluster's keys first: with no key store here (up run from another
	// machine against a live cluster), the store is made from the keys the
	// controller has, and a new key is generated only when it has none.
	grew, err := r.rescueSealingKeys(ctx)
	if err != nil {
		return err
	}
	if err := r.sealingKeys(); err != nil {
		return err
	}
	ns := toUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: r.env().Secrets.Namespace}})
	changed, err := r.kube.ApplyAll(ctx, append([]*unstructured.Unstructured{ns}, r.sealingSecrets()...))
	if err != nil {
		return err
	}
	if !grew && !changed {
		return actions.NoChange
	}
	return nil
}

// applySealedSecretsRelease installs the Sealed Secrets controller (its
// keys in place already).
func (r *Run) applySealedSecretsRelease(ctx context.Context) error {
	out, err := r.ensureRelease(ctx, SecretsRelease(r.env(), ""))
	if err != nil {
		return err
	}
	if out == helm.Unchanged {
		return actions.NoChange
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
	var changed bool
	err = untilWebhookAnswers(ctx, webhookWait, func(ctx context.Context) error {
		changed, err = r.kube.Apply(ctx, ClusterSecretStoreObject(r.env()))
		return err
	}, func(err error) {
		r.opts.Logf("waiting for External Secrets Operator's admission webhook to answer (its cert controller makes its certificate first): %v", err)
	})
	if err != nil {
		if webhookUnanswered(err) {
			return fmt.Errorf("%w: External Secrets Operator's admission webhook did not answer within %s; kubectl -n %s get pods,endpoints says whether its webhook and cert controller run", err, webhookWait, r.env().Secrets.Namespace)
		}
		return fmt.Errorf("%w (External Secrets Operator %s must serve external-secrets.io/v1)", err, r.env().Secrets.Version)
	}
	if !changed && out == helm.Unchanged {
		return actions.NoChange
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
		"metadata":   map[string]any{"name": facts.ClusterSecretStore, "labels": map[string]any{"app.kubernetes.io/managed-by": "groundwork"}},
		"spec":       map[string]any{"provider": map[string]any{"aws": aws}},
	}}
}

// webhookWait bounds the wait for an admission webhook installed a moment
// before to answer.
const webhookWait = 3 * time.Minute

// webhookUnanswered says the API server could not call an admission webhook
// (not that the webhook refused the object): the webhook's pods or its
// certificate are not there yet.
func webhookUnanswered(err error) bool {
	return err != nil && strings.Contains(err.Error(), "failed calling webhook")
}

// untilWebhookAnswers runs apply until it succeeds or fails for another
// reason than an admission webhook that does not answer, for at most limit.
// External Secrets Operator's webhook serves only once its cert controller
// has made the certificate and injected its CA, some seconds after the
// chart is installed, and the first objects groundwork applies go through
// it. note is told about the first unanswered call.
func untilWebhookAnswers(ctx context.Context, limit time.Duration, apply func(context.Context) error, note func(error)) error {
	deadline := time.Now().Add(limit)
	noted := false
	for {
		err := apply(ctx)
		if !webhookUnanswered(err) || time.Now().After(deadline) {
			return err
		}
		if !noted {
			note(err)
			noted = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}
