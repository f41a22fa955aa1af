// Package remote connects groundwork to the cloud clusters it provisions
// through Terraform (eks, gke, aks) and to EKS clusters it adopts.
//
// RootModule turns an environment's cluster block into the call of
// modules/eks, modules/gke or modules/aks that the terraform driver renders,
// with groundwork's tags (environment, expiry) and the identity the secrets
// integration needs; Backend turns its state block into the backend
// configuration; Prepare stages the embedded module, writes both files into
// the state directory and initialises Terraform there. DecodeOutputs reads
// the module's outputs back, and Kubeconfig builds the kubeconfig from them:
// EKS through `aws eks get-token` or a token groundwork presigns itself with
// aws-sdk-go-v2 (as aws-iam-authenticator does), GKE through
// gke-gcloud-auth-plugin, AKS through kubelogin.
//
// DescribeEKS adopts an EKS cluster by name (DescribeCluster) without
// Terraform owning it, and ExpiredEKS finds the clusters of expired
// ephemeral instances by their tags, for gc.
package remote
