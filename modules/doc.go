// Package modules embeds the Terraform modules groundwork provisions cloud
// clusters with (eks, gke, aks), so that the groundwork binary carries the
// very modules it was tested with: up copies the chosen one into the
// environment's state directory and calls it from the root module it
// renders there.
package modules
