// Package declared reads which Kubernetes objects a GitOps repository
// declares for an environment, the way Flux reaches them: the environment's
// folder through its kustomization.yaml (or, without one, every manifest
// Flux would generate one for), the folders its kustomization.yaml files
// list, and the paths of the Flux Kustomizations it declares that take
// their source from the same repository. groundwork uses it to find the
// objects of a user's repository that would collide with its own before it
// changes anything, and the Kustomizations to wait for.
package declared
