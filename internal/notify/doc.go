// Package notify turns the spec's notifications block into what each
// reconciler needs, and names what it makes, for render, up, plan and
// status alike.
//
// With Flux, every target is a notification-controller Provider (slack or
// generic) and an Alert over the Kustomizations and HelmReleases of the
// reconciler's namespace, named groundwork-<target>; its webhook URL is in
// the Secret groundwork-notification-<target> (key address), which lives in
// the repository encrypted with SOPS. With Argo CD, every target is a
// webhook service of argocd-notifications configured through the argo-cd
// chart's notifications values, with triggers and templates of groundwork's;
// the URLs are in argocd-notifications-secret, which up applies to the
// cluster and which never goes to Git.
//
// The URLs themselves come from the environment variables the targets name
// (url_env) when up runs. They are credentials: nothing here logs, prints or
// writes them in plaintext, and errors name the variable, never its value.
package notify
