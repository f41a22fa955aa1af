package seed

import (
	"errors"

	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// The notifications block: what up does for it beyond rendering the
// reconciler's objects. With Flux, each target's webhook URL is read from
// its environment variable and encrypted into the repository (render keeps
// the file as it is while it holds the same URL, which it checks by
// decrypting with the environment's age key). With Argo CD, the URLs go to
// argocd-notifications-secret, applied with the sync objects.

// NotificationOptions gives render the targets' webhook URLs and the means
// to compare the repository's encrypted Secrets with them. A missing or
// malformed variable is an error, found before up's first step (its check
// of the repository renders): a URL is needed to write the Secret. Only
// rebuild goes on without a variable whose Secret Git already has.
func (s *Seeder) NotificationOptions(opts *render.Options) error {
	env := s.opts.Env
	if env.Notifications == nil {
		return nil
	}
	urls := map[string]string{}
	for _, t := range env.Notifications.Targets {
		u, err := notify.URL(t, s.opts.Environ)
		var missing *notify.MissingURLError
		if errors.As(err, &missing) && s.rebuildHas(t) {
			s.opts.Logf("notification target %s: $%s is not set; keeping the Secret the repository has", t.Name, t.URLEnv)
			continue
		}
		if err != nil {
			return err
		}
		urls[t.Name] = u
	}
	opts.NotificationURLs = urls
	if id := s.Identity; id != nil && env.Secrets.Provider == spec.SecretsSOPS {
		opts.Decrypt = func(enc []byte) ([]byte, error) { return sopsenc.DecryptYAML(enc, id.String()) }
	}
	return nil
}

// rebuildHas reports whether rebuild runs and Git has what the target
// needs that a URL would otherwise make: its encrypted Secret (Flux), or
// nothing (Argo CD keeps no Secret in Git: the sync step leaves
// argocd-notifications-secret alone, and says so).
func (s *Seeder) rebuildHas(t spec.NotificationTarget) bool {
	if s.Snapshot == nil {
		return false
	}
	p := s.engine.NotificationSecretPath(t)
	if p == "" {
		return true
	}
	_, ok := s.Snapshot.Files[p]
	return ok
}
