// Command testbin builds every binary the integration test harness needs
// into the testbin cache ($GROUNDWORK_TESTBIN, default
// $HOME/.cache/groundwork/testbin), skipping those already there, and checks (or,
// online, downloads) the pinned upstream charts. It is the
// `make testbin` entry point: go run ./tests/harness/cmd/testbin
package main
