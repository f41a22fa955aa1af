// Command testbin builds every binary the integration test harness needs
// into the testbin cache ($GROUNDWORK_TESTBIN, default
// $HOME/.cache/groundwork/testbin), skipping those already there. It is the
// `make testbin` entry point: go run ./tests/harness/cmd/testbin
package main
