package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// AKSServerID is the application ID of the AKS Entra ID server, the
// audience kubelogin asks tokens for.
const AKSServerID = "6dae42f8-4368-4678-94ff-3960e28e3630"

// Token is a bearer token and when it stops working.
type Token struct {
	Value  string
	Expiry time.Time
}

// KubeconfigOptions say how the kubeconfig authenticates.
type KubeconfigOptions struct {
	// Token, when set, is written into the kubeconfig instead of an exec
	// plugin (EKS without the aws CLI). It expires: groundwork writes a
	// new one on every run.
	Token *Token
	// AWSProfile is passed to `aws eks get-token` (empty: the default).
	AWSProfile string
}

// Kubeconfig is the kubeconfig of a cloud cluster, with one context named
// after the cluster: EKS through `aws eks get-token` (or a token), GKE
// through gke-gcloud-auth-plugin, AKS through kubelogin with the Azure CLI's
// login.
func Kubeconfig(o *Outputs, ko KubeconfigOptions) (*clientcmdapi.Config, error) {
	if o.Endpoint == "" || len(o.CAData) == 0 {
		return nil, fmt.Errorf("cluster %s: no endpoint or CA certificate", o.ClusterName)
	}
	name := o.Provider + "_" + o.ClusterName
	auth := &clientcmdapi.AuthInfo{}
	switch o.Provider {
	case spec.ProviderEKS:
		if ko.Token != nil {
			auth.Token = ko.Token.Value
			break
		}
		var env []clientcmdapi.ExecEnvVar
		if ko.AWSProfile != "" {
			env = append(env, clientcmdapi.ExecEnvVar{Name: "AWS_PROFILE", Value: ko.AWSProfile})
		}
		auth.Exec = &clientcmdapi.ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1beta1", Command: "aws",
			Args: []string{"eks", "get-token", "--cluster-name", o.ClusterName, "--region", o.Region, "--output", "json"},
			Env:  env, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
			InstallHint: "groundwork's EKS kubeconfig needs the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
		}
	case spec.ProviderGKE:
		auth.Exec = &clientcmdapi.ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1beta1", Command: "gke-gcloud-auth-plugin",
			ProvideClusterInfo: true, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
			InstallHint: "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
		}
	case spec.ProviderAKS:
		auth.Exec = &clientcmdapi.ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1beta1", Command: "kubelogin",
			Args:            []string{"get-token", "--login", "azurecli", "--server-id", AKSServerID},
			InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
			InstallHint:     "Install kubelogin: az aks install-cli (or https://azure.github.io/kubelogin/install.html)",
		}
	default:
		return nil, fmt.Errorf("no kubeconfig for provider %q", o.Provider)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: o.Endpoint, CertificateAuthorityData: o.CAData}
	cfg.AuthInfos[name] = auth
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg, nil
}

// WriteKubeconfig writes cfg to path, mode 0600 (it may hold a token).
func WriteKubeconfig(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
