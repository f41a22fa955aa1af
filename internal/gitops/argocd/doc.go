// Package argocd is Argo CD as a gitops.Engine: it points Argo CD at an
// environment's repository (the repository credentials Secret, the
// AppProject and the root Application, an app of apps), installs it marked
// as the Application by which it then manages itself, waits until every
// Application is Synced and Healthy at the seeded revision (syncing by
// hand under a manual sync policy) or names each Application that is not
// with its conditions, its operation's message and the resources out of
// sync or unhealthy, detaches Argo CD from a cluster without its
// finalizers deleting what it applied, and reads the notification
// deliveries recorded on the Applications.
package argocd
