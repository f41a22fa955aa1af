package up

// Snapshot is what Preflight read of the repository: the revision and the
// files (by path from the repository's root). drill reads the
// environment's declared objects and its encrypted files from it; nil
// files before Preflight.
func (r *Run) Snapshot() (revision string, files map[string][]byte) {
	if r.seed.Snapshot == nil {
		return r.Revision, nil
	}
	return r.Revision, r.seed.Snapshot.Files
}
