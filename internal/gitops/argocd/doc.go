// Package argocd points Argo CD at an environment's repository and waits
// for it: the repository credentials Secret, the default AppProject and the
// root Application (app of apps) that up applies, and the wait until every
// Application is Synced and Healthy at the seeded revision — or an error
// that names each Application that is not, with its conditions, its
// operation's message and the resources that are out of sync or unhealthy.
package argocd
