package contract

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/go-version"
)

// singleConstraint matches one constraint of a comma-separated list, as
// go-version parses it.
var singleConstraint = regexp.MustCompile(`^\s*(<=|>=|!=|~>|<|>|=|)\s*(` + version.VersionRegexpRaw + `)\s*$`)

// ParseConstraints parses a version constraint string (">= 5.95, < 6.0").
func ParseConstraints(s string) (version.Constraints, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil // no constraint: any version
	}
	return version.NewConstraint(s)
}

// Intersect returns a release version (no pre-release) that satisfies every
// constraint string in cs, or nil when there is none. It is exact for
// release versions: where the constraints meet, the smallest version they
// admit is 0.0.0, a version one of them names, or one patch release above
// such a version (the next after a >, or after a != that excludes the
// smallest), so those are the only candidates to try.
func Intersect(cs ...string) (*version.Version, error) {
	var all version.Constraints
	candidates := []*version.Version{version.Must(version.NewVersion("0.0.0"))}
	for _, s := range cs {
		c, err := ParseConstraints(s)
		if err != nil {
			return nil, err
		}
		all = append(all, c...)
		for _, single := range strings.Split(s, ",") {
			m := singleConstraint.FindStringSubmatch(single)
			if m == nil {
				if strings.TrimSpace(s) == "" {
					continue
				}
				return nil, fmt.Errorf("malformed constraint %q", single)
			}
			v, err := version.NewVersion(m[2])
			if err != nil {
				return nil, err
			}
			core := v.Core() // a release, for a constraint on a pre-release
			candidates = append(candidates, core, nextPatch(core))
		}
	}
	var best *version.Version
	for _, v := range candidates {
		if all.Check(v) && (best == nil || v.LessThan(best)) {
			best = v
		}
	}
	return best, nil
}

// nextPatch is the version one above v in its last segment.
func nextPatch(v *version.Version) *version.Version {
	seg := v.Segments64()
	seg[len(seg)-1]++
	parts := make([]string, len(seg))
	for i, s := range seg {
		parts[i] = fmt.Sprint(s)
	}
	return version.Must(version.NewVersion(strings.Join(parts, ".")))
}
