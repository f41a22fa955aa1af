package seed

import (
	"path"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/kustomization"
)

// Taking over a Flux installed by flux bootstrap (up --take-over-bootstrap).
//
// flux bootstrap leaves a folder (flux-system/) with gotk-components.yaml
// (Flux's controllers, CRDs and RBAC), gotk-sync.yaml (the GitRepository and
// Kustomization flux-system) and a kustomization.yaml listing both, and the
// cluster running what they declare. The order below never lets Flux prune
// itself or what it applied:
//
//  1. reconciler step, before Helm: every object gotk-components.yaml and
//     gotk-sync.yaml declare is marked kustomize.toolkit.fluxcd.io/prune:
//     disabled (so the flux-system Kustomization will not delete it once Git
//     stops declaring it) and given Helm's ownership metadata for the flux2
//     release, so that Helm adopts the running objects instead of failing
//     on them: the Deployments are updated in place, never deleted;
//  2. seed step: one commit removes the bootstrap's three files (and the
//     folder's entry in the root kustomization.yaml) and adds groundwork's,
//     whose sync objects keep the names flux-system;
//  3. sync and wait as for any environment.

// bootstrapFiles are the files flux bootstrap writes into its folder.
var bootstrapFiles = []string{"gotk-components.yaml", "gotk-sync.yaml", kustomization.FileName}

// findBootstrap returns the folder under root that flux bootstrap made
// (it holds gotk-sync.yaml and gotk-components.yaml), or "".
func findBootstrap(tree map[string][]byte, root string) string {
	for p := range tree {
		if path.Base(p) != "gotk-sync.yaml" || !strings.HasPrefix(p, root+"/") {
			continue
		}
		if _, ok := tree[path.Join(path.Dir(p), "gotk-components.yaml")]; ok {
			return path.Dir(p)
		}
	}
	return ""
}

// withBootstrapRemoved adds to ch the removal of the bootstrap's files in
// dir, and makes the root kustomization.yaml forget the folder.
func withBootstrapRemoved(ch gitrepo.Change, dir string) gitrepo.Change {
	remove := func([]byte, bool, map[string][]byte) ([]byte, error) { return nil, nil }
	rel := strings.TrimPrefix(dir, ch.Root+"/")
	for i, f := range ch.Files {
		if f.Build == nil || path.Dir(f.Path) != ch.Root || path.Base(f.Path) != kustomization.FileName {
			continue
		}
		build := f.Build
		ch.Files[i].Build = func(existing []byte, managed bool, tree map[string][]byte) ([]byte, error) {
			without := make(map[string][]byte, len(tree))
			for p, b := range tree {
				if !strings.HasPrefix(p, dir+"/") || !isBootstrapFile(p) {
					without[p] = b
				}
			}
			out, err := build(existing, managed, without)
			if err != nil || existing == nil || managed {
				return out, err
			}
			return kustomization.RemoveResources(out, []string{rel})
		}
	}
	for _, name := range bootstrapFiles {
		ch.Files = append(ch.Files, gitrepo.File{Path: path.Join(dir, name), Build: remove})
	}
	return ch
}

func isBootstrapFile(p string) bool {
	for _, n := range bootstrapFiles {
		if path.Base(p) == n {
			return true
		}
	}
	return false
}
