package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Release is the version this source is on its way to: an unreleased build
// is v<Release>-dev, with its commit as build metadata
// (v0.1.0-dev+74194db6c0ab), a semantic version like a released one.
const Release = "0.1.0"

// Set at build time: -ldflags "-X github.com/groundwork-dev/groundwork/internal/buildinfo.version=v0.1.0".
var (
	version = ""
	commit  = ""
)

// Info describes this build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns this build's information.
func Get() Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "v" + Release + "-dev"
		if c := info.Commit; c != "" {
			info.Version += "+" + c[:min(len(c), 12)]
		}
	}
	return info
}
