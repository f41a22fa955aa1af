package buildinfo

import (
	"testing"

	"golang.org/x/mod/semver"
)

// TestVersionIsSemantic: a build not stamped with a version (go build, go
// run) says a semantic version all the same, v<Release>-dev with its
// commit; a stamped one says what it was stamped with.
func TestVersionIsSemantic(t *testing.T) {
	saved, savedCommit := version, commit
	defer func() { version, commit = saved, savedCommit }()
	for _, c := range []string{"", "74194db6c0ab1f2e3d4c5b6a79880716253443aa"} {
		version, commit = "", c
		v := Get().Version
		if !semver.IsValid(v) || semver.Prerelease(v) != "-dev" || semver.Canonical(v) != "v"+Release+"-dev" {
			t.Errorf("commit %q: version %q, want a semantic version v%s-dev[+commit]", c, v, Release)
		}
	}
	version = "v1.2.3"
	if v := Get().Version; v != "v1.2.3" {
		t.Errorf("stamped v1.2.3: %q", v)
	}
}
