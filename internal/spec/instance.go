package spec

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// ciRunVariables name a CI run, in the order they are tried: GitHub
// Actions, GitLab CI, Buildkite, CircleCI, Jenkins.
var ciRunVariables = [][]string{
	{"GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"},
	{"CI_PIPELINE_ID", "CI_JOB_ID"},
	{"BUILDKITE_BUILD_NUMBER", "BUILDKITE_RETRY_COUNT"},
	{"CIRCLE_WORKFLOW_ID"},
	{"BUILD_ID"},
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// InstanceSuffix picks the suffix of an ephemeral environment's instance:
// the given one, else the CI run's id from the usual CI variables, else
// (when random is allowed, for up) a random one. ok is false when none can
// be had.
func InstanceSuffix(given string, environ []string, random bool) (suffix string, ok bool) {
	clean := func(s string) string {
		s = strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(s), "-"), "-")
		if len(s) > 20 {
			s = s[len(s)-20:]
		}
		return strings.Trim(s, "-")
	}
	if given != "" {
		return clean(given), clean(given) != ""
	}
	lookup := func(name string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
				return v
			}
		}
		return ""
	}
	for _, vars := range ciRunVariables {
		var parts []string
		for _, v := range vars {
			if x := lookup(v); x != "" {
				parts = append(parts, x)
			}
		}
		if len(parts) > 0 && lookup(vars[0]) != "" {
			return clean(strings.Join(parts, "-")), true
		}
	}
	if !random {
		return "", false
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b), true
}

// Instance makes env the instance of an ephemeral environment named by
// suffix: its name (and so its kind cluster and state directory) and its
// folder in the repository get the suffix, so that parallel instances never
// collide. The key store is the environment's, shared by its instances.
func (env *Environment) Instance(suffix string) error {
	if env.Ephemeral == nil {
		return fmt.Errorf("environment %s is not ephemeral: add ephemeral { ttl = \"2h\" } or use up --ephemeral", env.Name)
	}
	env.Ephemeral.Base, env.Ephemeral.Suffix = env.Name, suffix
	env.Name = env.Name + "-" + suffix
	r := &env.GitOps.Repository
	r.Path = path.Clean(r.Path) + "-" + suffix
	return nil
}
