package deploy

import (
	"errors"
	"strings"
	"testing"
)

const digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestParseImage(t *testing.T) {
	for arg, want := range map[string]Image{
		"app=registry.example/app:1.2.3":              {Name: "app", NewName: "registry.example/app", Tag: "1.2.3"},
		"ghcr.io/acme/web=ghcr.io/acme/web:v2":        {Name: "ghcr.io/acme/web", NewName: "ghcr.io/acme/web", Tag: "v2"},
		"localhost:5000/x=localhost:5000/x@" + digest: {Name: "localhost:5000/x", NewName: "localhost:5000/x", Digest: digest},
		"web:1=ghcr.io/acme/web:1.1@" + digest:        {Name: "web", NewName: "ghcr.io/acme/web", Tag: "1.1", Digest: digest},
	} {
		got, err := ParseImage(arg)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", arg, got, err)
		}
	}
	for _, bad := range []string{"app", "=x:1", "app=registry/app",
		// References no registry serves: they were committed and pushed.
		"ghcr.io/acme/web=ghcr.io/acme/web:1 2", "ghcr.io/acme/web=ghcr.io/acme/web@sha256:abc",
		"web=Registry/Web:1", "web=web:", "we b=web:1", "web=web:1.0;rm"} {
		_, err := ParseImage(bad)
		var ie *ImageError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an *ImageError", bad, err)
		}
	}
}

func TestUpdate(t *testing.T) {
	files := map[string][]byte{
		"c/apps/kustomization.yaml": []byte("# my apps\nresources:\n  - web.yaml\nimages:\n  - name: web\n    newTag: \"1.0\" # pinned\n  - name: other\n    newTag: \"9\"\n"),
		"c/apps/web.yaml":           []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/api:1.0\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  image: ghcr.io/acme/api:1.0\n"),
		"c/infrastructure/api.yaml": []byte("kind: HelmRelease\nspec:\n  values:\n    image:\n      repository: ghcr.io/acme/api\n      tag: \"1.0\"\n"),
		"c/secrets/s.yaml":          []byte("kind: Secret\nsops:\n  version: 3.13.3\ndata:\n  image: ENC[...]\n"),
	}
	imgs := []Image{{Name: "web", NewName: "web", Tag: "2.0"}, {Name: "ghcr.io/acme/api", NewName: "ghcr.io/acme/api", Tag: "1.1"}}
	out, edits, err := Update(files, imgs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range out {
		got[f.Path] = string(f.Data)
	}
	if k := got["c/apps/kustomization.yaml"]; !strings.Contains(k, "newTag: \"2.0\"") && !strings.Contains(k, "newTag: 2.0") || !strings.Contains(k, "# my apps") || !strings.Contains(k, "newTag: \"9\"") {
		t.Errorf("kustomization:\n%s", k)
	}
	if w := got["c/apps/web.yaml"]; strings.Count(w, "ghcr.io/acme/api:1.1") != 2 || !strings.Contains(w, "\n---\n") {
		t.Errorf("manifests:\n%s", w)
	}
	if h := got["c/infrastructure/api.yaml"]; !strings.Contains(h, "tag: \"1.1\"") && !strings.Contains(h, "tag: 1.1") {
		t.Errorf("HelmRelease values:\n%s", h)
	}
	if _, ok := got["c/secrets/s.yaml"]; ok {
		t.Error("a SOPS file was edited")
	}
	if len(edits) != 4 {
		t.Errorf("edits: %+v", edits)
	}
	// Again: nothing to change.
	for _, f := range out {
		files[f.Path] = f.Data
	}
	if out, _, err := Update(files, imgs); err != nil || len(out) != 0 {
		t.Errorf("second update: %d files, %v", len(out), err)
	}
	if _, _, err := Update(files, []Image{{Name: "typo", NewName: "typo", Tag: "1"}}); err == nil || !strings.Contains(err.Error(), "no manifest uses the image(s) typo") {
		t.Errorf("unknown image: %v", err)
	}
}
