package contract

// Pin is a community module at the exact version a wrapper calls it, the
// archive of it kept beside the repository and the archive's sha256.
type Pin struct {
	// Address is the registry address, namespace/name/provider.
	Address string
	Version string
	// Archive is the file name of the archive: a tar.gz of the module's
	// source tree at the release tag, under one top-level folder.
	Archive string
	// SHA256 is the hex sha256 of the archive file.
	SHA256 string
	// Repository and Commit say where the tree comes from.
	Repository string
	Commit     string
}

// Pinned are the community modules modules/eks, modules/gke and modules/aks
// call. Bumping a version there means archiving the new release into the
// shared terraform-modules folder and pinning it here, sha256 included.
var Pinned = []Pin{
	{
		Address: "terraform-aws-modules/vpc/aws", Version: "5.21.0", Archive: "vpc-5.21.0.tar.gz",
		SHA256:     "bc03d66ead287ed8ba9dba2d0b741b70029e946712d5905127acea63090a5b2e",
		Repository: "terraform-aws-modules/terraform-aws-vpc", Commit: "7c1f791efd61f326ed6102d564d1a65d1eceedf0",
	},
	{
		Address: "terraform-aws-modules/eks/aws", Version: "20.37.2", Archive: "eks-20.37.2.tar.gz",
		SHA256:     "decc62cf5c23ee634db0448cf1bdb992c0d11533d988589500af7d8f08b904e9",
		Repository: "terraform-aws-modules/terraform-aws-eks", Commit: "8a0efdbbc84180a26e0bacfd2b6fcfceac53b3b6",
	},
	{
		Address: "terraform-google-modules/kubernetes-engine/google", Version: "36.3.0", Archive: "kubernetes-engine-36.3.0.tar.gz",
		SHA256:     "0db2ada402d3328724947c1c6272f849e44e37538ee8f4a5b266ae84f9f83645",
		Repository: "terraform-google-modules/terraform-google-kubernetes-engine", Commit: "ae3c8fe842c84f0f1b4c06dabd7d2992126b80ab",
	},
	{
		Address: "Azure/aks/azurerm", Version: "9.4.1", Archive: "aks-9.4.1.tar.gz",
		SHA256:     "3c7d16cf8e30d6b27c0c255319c506d9cb9f4f4c574059e6dfcc8d8fb4679e8f",
		Repository: "Azure/terraform-azurerm-aks", Commit: "90389ee19431741fb83e4919c9cbdd4dbf0a9b46",
	},
}
