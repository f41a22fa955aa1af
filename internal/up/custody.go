package up

import (
	"context"
	"time"

	"github.com/groundwork-dev/groundwork/internal/custody"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// custodyKeys are the keys the run holds, read from the key store when it
// holds none yet (creating nothing).
func (r *Run) custodyKeys(ctx context.Context) (custody.Keys, error) {
	s := r.env().Secrets
	switch {
	case s.Provider == spec.SecretsSOPS && r.identity != nil,
		s.Provider == spec.SecretsSealedSecrets && r.sealing != nil,
		s.Provider == spec.SecretsExternalSecrets:
		return custody.Keys{Age: r.identity, Sealing: r.sealing}, nil
	}
	return custody.Load(ctx, r.env(), r.opts.Environ)
}

// checkCustody checks that what Git holds at the branch head decrypts with
// the key store's keys (custody.Check): at the end of up's seed step, and
// in rebuild's Preflight on the snapshot it read (files non-nil). The
// report is kept in r.Custody (its time includes reading the branch head);
// a mismatch is a *custody.MismatchError.
func (r *Run) checkCustody(ctx context.Context, git *gitrepo.Client, files map[string][]byte) error {
	start := time.Now()
	k, err := r.custodyKeys(ctx)
	if err != nil {
		return err
	}
	if files == nil && r.env().Secrets.Provider != spec.SecretsExternalSecrets {
		snap, err := git.Read(ctx, r.env().GitOps.Repository.Path)
		if err != nil {
			return err
		}
		files = snap.Files
	}
	rep, err := custody.Check(ctx, r.env(), files, k)
	rep.TookMS = time.Since(start).Milliseconds() // the read of the branch head included
	r.Custody = rep
	r.opts.Logf("key custody: %s (%d ms)", rep.Summary, rep.TookMS)
	return err
}
