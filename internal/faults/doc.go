// Package faults places named kill points inside groundwork for the fault
// suite (tests/e2e/faults_test.go). In every ordinary build Point does
// nothing and costs a function call. A binary built with the build tag
// faultpoints (go build -tags faultpoints) reads GROUNDWORK_FAULTPOINT: when
// it names a point ("helm:wait"), or its n-th hit ("kube:applied#2"), the
// process sends itself SIGKILL there, as a CI runner killed mid-step would
// be: no deferred function, no signal handler, no journal update runs.
//
// Points are named "<area>:<what>"; the runner's are "step:<step>" (the
// step recorded as running, before its check) and "step:<step>:applied"
// (applied, not yet recorded as done). GROUNDWORK_FAULTPOINT_LOG, when set,
// names a file each hit of any point is appended to, so the suite can list
// the points a command passes. GROUNDWORK_FAULTPOINT_SIGNAL=STOP stops the
// process at the point instead (SIGSTOP), holding whatever it holds (the
// environment's lock) until it is sent SIGCONT: how the suite races two
// processes deterministically.
package faults
