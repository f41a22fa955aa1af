// Package kubefake makes a kube.Client over client-go's fake clientset and
// fake dynamic client, with a REST mapper that serves the kinds given: for
// unit tests of code that reads and patches objects, where no API server
// runs (the harness tests run the real one).
package kubefake
