// Package e2e holds groundwork's end-to-end tests built on tests/harness:
// the smoke test of the control plane, the Flux reconciler installed with
// Helm, the Git servers, the chart sources and Wipe. They need no Docker;
// the binaries are built on first use (go run ./tests/harness/cmd/testbin).
// Run them with: go test ./tests/... -v -timeout 60m (-short skips them).
//
// The CI templates (templates/ci) are read as the CI systems read them,
// -short included: actionlint over the GitHub workflows (the template and
// .github/workflows), the GitLab file's keywords, images, services and
// tools (TestGitHubWorkflowsLint, TestGitHubTemplate, TestGitLabTemplate);
// and their scripts run as written, with bash, on the harness
// (TestGitHubTemplateOnTheHarness, TestGitLabTemplateOnTheHarness).
package e2e
