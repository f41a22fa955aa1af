// Package harness is groundwork's integration test harness. It gives a test,
// in seconds once the binaries are cached, the pieces a real installation
// talks to, all on loopback and all cleaned up with t.Cleanup:
//
//   - StartControlPlane: etcd, kube-apiserver (TLS with a harness-made CA,
//     RBAC, service-account token issuer), kube-controller-manager (without
//     the node-lifecycle controller), kube-scheduler and kwok with one fake
//     Node, so Deployments get Running and Ready pods and Helm's --wait
//     behaves as on a real cluster. AdminKubeconfig, ServiceAccountKubeconfig
//     (TokenRequest) and Wipe (lose the cluster: fresh etcd, same ports, same
//     CA) are methods on the result.
//   - StartFlux: a "host kubelet" that runs the real source-controller and
//     kustomize-controller binaries, as the ServiceAccounts the flux2 chart
//     created, whenever the chart's Deployments exist.
//   - BuildFluxChart: a "flux2" chart (2.17.0 / appVersion 2.7.0) with the
//     CRDs from the pinned Flux modules, upstream RBAC and Deployments.
//   - StartChartRepo / StartOCIRegistry: a Helm HTTP repository and an
//     in-process OCI registry.
//   - StartGitHTTPServer / StartGitSSHServer: smart-HTTP (git http-backend)
//     and SSH (public key) Git servers over bare repositories; GitWorkdir
//     commits and pushes with go-git.
//   - NewAgeKey / SopsEncryptYAML: SOPS+age material for Flux decryption.
//
// Binaries (etcd, kube-*, kwok, Flux controllers, sops, age-keygen) are built
// from the tools modules under tests/tools into $GROUNDWORK_TESTBIN (default
// $HOME/.cache/groundwork/testbin/<name>-<version>/) on first use, or ahead of
// time with `go run ./tests/harness/cmd/testbin`. $KUBEBUILDER_ASSETS may
// provide etcd and kube-apiserver. Component logs go to one directory per
// test ($GROUNDWORK_TEST_LOGS to keep them); their tails are printed when a
// test fails.
package harness
