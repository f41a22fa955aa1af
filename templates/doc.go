// Package templates holds the GitOps repository templates groundwork seeds
// repositories from, embedded into the binary. Each engine has a folder
// whose tree mirrors what is written under the environment's path in the
// repository; files ending in .tmpl are Go text/templates rendered by
// internal/render, "addon" templates once per addon.
package templates
