// Package harness is groundwork's integration test harness. It gives a test,
// in seconds once the binaries are cached, the pieces a real installation
// talks to, all on loopback and all cleaned up with t.Cleanup:
//
//   - StartControlPlane: etcd, kube-apiserver (TLS with a harness-made CA,
//     RBAC, service-account token issuer), kube-controller-manager (without
//     the node-lifecycle controller), kube-scheduler and kwok with one fake
//     Node, so Deployments get Running and Ready pods and Helm's --wait
//     behaves as on a real cluster. AdminKubeconfig, ServiceAccountKubeconfig
//     (TokenRequest), Wipe (lose the cluster: fresh etcd, same ports, same
//     CA) and StopAPIServer/StartAPIServer (the API server alone goes away
//     and comes back, its data kept) are methods on the result.
//   - StartKubelet: the one "host kubelet": for every Deployment or
//     StatefulSet whose container image has a cached binary (Flux's four
//     controllers, Argo CD's programs, Redis from the host) it runs that
//     binary on the host with the container's args (listen addresses moved
//     to loopback, Service addresses rewritten to stable loopback proxies),
//     as the pod's ServiceAccount; it restarts crashed programs (with
//     CrashLoopBackOff's delays; Crash kills one as a crash would) and
//     reports the crash on the workload's pods as a kubelet does (waiting
//     CrashLoopBackOff, the last exit, the restart count, not Ready until
//     the program has stayed up a second), rolls out a changed pod
//     template and stops programs whose workload goes.
//   - LoadUpstreamChart / ChartRepo.AddUpstream: the published flux2 and
//     argo-cd charts (../shared/charts, $GROUNDWORK_UPSTREAM_CHARTS, or the
//     testbin cache), checked against upstream.sha256.
//   - StartChartRepo / StartOCIRegistry: a Helm HTTP repository and an
//     in-process OCI registry.
//   - StartGitHTTPServer / StartGitSSHServer: smart-HTTP (git http-backend)
//     and SSH (public key) Git servers over bare repositories; GitWorkdir
//     commits and pushes with go-git.
//   - NewAgeKey / SopsEncryptYAML: SOPS+age material for Flux decryption.
//
// Binaries (etcd, kube-*, kwok, Flux controllers, Argo CD, sops, age-keygen) are built
// from the tools modules under tests/tools into $GROUNDWORK_TESTBIN (default
// $HOME/.cache/groundwork/testbin/<name>-<version>/) on first use, or ahead of
// time with `go run ./tests/harness/cmd/testbin`. $KUBEBUILDER_ASSETS may
// provide etcd and kube-apiserver. Component logs go to one directory per
// test ($GROUNDWORK_TEST_LOGS to keep them); their tails are printed when a
// test fails.
package harness
