// Command etcd runs the etcd server pinned by this tools module
// (go.etcd.io/etcd/server/v3); the test harness builds it into its cache.
package main
