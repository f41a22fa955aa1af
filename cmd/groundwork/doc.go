// Command groundwork lays down a whole Kubernetes environment from one
// declarative file, and lays it down again after a disaster. All logic lives
// in internal/; this main only hands the process to internal/app.
package main
