// Package etcd is a tools module that pins the etcd server version used by the
// groundwork test harness. The binary is built from ./cmd/etcd.
package etcd
