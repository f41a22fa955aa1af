package remote

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Outputs are what groundwork reads from a module's outputs (or from
// DescribeCluster for an adopted EKS cluster).
type Outputs struct {
	Provider    string
	ClusterName string
	Endpoint    string
	// CAData is the cluster CA's PEM certificate.
	CAData []byte
	// Region (EKS) or Location (GKE, AKS).
	Region        string
	Project       string // GKE
	ResourceGroup string // AKS
	// ExternalSecretsIdentity is the cloud identity External Secrets
	// Operator takes: an IAM role ARN (EKS), a Google service account
	// (GKE), a client ID (AKS); empty without external-secrets.
	ExternalSecretsIdentity string
	Tags                    map[string]string
}

// Expires is the expiry the tags record (zero: none).
func (o *Outputs) Expires() time.Time {
	s, ok := o.Tags[TagExpires]
	if !ok {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// DecodeOutputs reads the root module's outputs (terraform output).
func DecodeOutputs(provider string, raw map[string]json.RawMessage) (*Outputs, error) {
	o := &Outputs{Provider: provider}
	str := func(name string, dst *string, required bool) error {
		v, ok := raw[name]
		if !ok {
			if required {
				return fmt.Errorf("the module has no output %q (is the state from another module?)", name)
			}
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		if required && *dst == "" {
			return fmt.Errorf("output %s is empty", name)
		}
		return nil
	}
	var ca string
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"cluster_name", &o.ClusterName, true}, {"cluster_endpoint", &o.Endpoint, true}, {"cluster_ca_certificate", &ca, true},
		{"region", &o.Region, false}, {"location", &o.Region, false}, {"project", &o.Project, false}, {"resource_group", &o.ResourceGroup, false},
		{"external_secrets_role_arn", &o.ExternalSecretsIdentity, false}, {"external_secrets_service_account", &o.ExternalSecretsIdentity, false},
		{"external_secrets_client_id", &o.ExternalSecretsIdentity, false},
	} {
		if err := str(f.name, f.dst, f.required); err != nil {
			return nil, err
		}
	}
	pem, err := base64.StdEncoding.DecodeString(ca)
	if err != nil {
		return nil, fmt.Errorf("output cluster_ca_certificate is not base64: %w", err)
	}
	o.CAData = pem
	if v, ok := raw["tags"]; ok {
		if err := json.Unmarshal(v, &o.Tags); err != nil {
			return nil, fmt.Errorf("output tags: %w", err)
		}
	}
	return o, nil
}
