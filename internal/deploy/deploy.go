package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"

	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
)

// Image is one --image name=reference.
type Image struct {
	// Name is the image as the manifests name it, without tag or digest.
	Name string
	// NewName, Tag and Digest are the new reference's parts.
	NewName, Tag, Digest string
}

// Ref is the new reference as a string.
func (i Image) Ref() string {
	switch {
	case i.Digest != "":
		return i.NewName + "@" + i.Digest
	case i.Tag != "":
		return i.NewName + ":" + i.Tag
	}
	return i.NewName
}

// ImageError is an --image argument that is not name=reference, or whose
// reference is not a valid image reference.
type ImageError struct {
	Arg    string
	Reason string
}

func (e *ImageError) Error() string { return fmt.Sprintf("--image %q: %s", e.Arg, e.Reason) }

// ParseImage reads name=registry/app:tag (or @sha256:...). Both sides must
// be valid image references (github.com/distribution/reference, the
// grammar registries and container runtimes use), so a reference no cluster
// could pull is refused before anything is committed.
func ParseImage(arg string) (Image, error) {
	name, ref, ok := strings.Cut(arg, "=")
	if !ok || name == "" || ref == "" {
		return Image{}, &ImageError{arg, "give name=registry/app:tag, where name is the image as your manifests name it"}
	}
	parsed, err := reference.Parse(ref)
	if err != nil {
		return Image{}, &ImageError{arg, fmt.Sprintf("%q is not a valid image reference: %v", ref, err)}
	}
	named, ok := parsed.(reference.Named)
	if !ok {
		return Image{}, &ImageError{arg, fmt.Sprintf("%q names no repository", ref)}
	}
	img := Image{NewName: named.Name()}
	if t, ok := parsed.(reference.Tagged); ok {
		img.Tag = t.Tag()
	}
	if d, ok := parsed.(reference.Digested); ok {
		img.Digest = d.Digest().String()
	}
	if img.Tag == "" && img.Digest == "" {
		return Image{}, &ImageError{arg, "the new reference needs a tag or a digest (registry/app:1.2.3 or registry/app@sha256:...)"}
	}
	old, err := reference.Parse(name)
	if err != nil {
		return Image{}, &ImageError{arg, fmt.Sprintf("%q (before =) is not a valid image name: %v", name, err)}
	}
	oldNamed, ok := old.(reference.Named)
	if !ok {
		return Image{}, &ImageError{arg, fmt.Sprintf("%q (before =) names no repository", name)}
	}
	img.Name = oldNamed.Name()
	return img, nil
}

// split cuts an image reference into repository, tag and digest.
func split(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

// Edit is one change made.
type Edit struct {
	Path, Image, From, To string
}

// Update edits the files (path to content) for the images; it returns the
// changed files and what changed. Images found nowhere are an error: a
// typo must not pass for a deploy.
func Update(files map[string][]byte, images []Image) ([]gitrepo.File, []Edit, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	found := map[string]bool{}
	var out []gitrepo.File
	var edits []Edit
	for _, p := range paths {
		b := files[p]
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") || sopsenc.IsEncrypted(b) {
			continue
		}
		docs, err := decodeAll(b)
		if err != nil {
			continue // not YAML groundwork can edit; the reconciler will say
		}
		var fileEdits []Edit
		for _, d := range docs {
			for _, img := range images {
				for _, e := range editNode(d, img, found) {
					e.Path = p
					fileEdits = append(fileEdits, e)
				}
			}
		}
		if len(fileEdits) == 0 {
			continue
		}
		changed := false
		for _, e := range fileEdits {
			changed = changed || e.From != e.To
		}
		edits = append(edits, fileEdits...)
		if !changed {
			continue
		}
		data, err := encodeAll(docs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, gitrepo.File{Path: p, Data: data})
	}
	var missing []string
	for _, img := range images {
		if !found[img.Name] {
			missing = append(missing, img.Name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("no manifest uses the image(s) %s: check the name before = (it is the image as your manifests name it, without tag)", strings.Join(missing, ", "))
	}
	return out, edits, nil
}

func decodeAll(b []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

func encodeAll(docs []*yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), enc.Close()
}

// editNode walks a document and updates every reference to img.
func editNode(n *yaml.Node, img Image, found map[string]bool) []Edit {
	var edits []Edit
	var walk func(n *yaml.Node, parentKey string)
	walk = func(n *yaml.Node, parentKey string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, parentKey)
			}
		case yaml.MappingNode:
			if parentKey == "images" {
				edits = append(edits, kustomizeImage(n, img, found)...)
			}
			edits = append(edits, repositoryTag(n, img, found)...)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "image" && v.Kind == yaml.ScalarNode {
					if repo, _, _ := split(v.Value); repo == img.Name {
						found[img.Name] = true
						edits = append(edits, Edit{Image: img.Name, From: v.Value, To: img.Ref()})
						v.Value = img.Ref()
					}
					continue
				}
				walk(v, k.Value)
			}
		}
	}
	walk(n, "")
	return edits
}

// kustomizeImage updates a kustomization images: entry named img.Name.
func kustomizeImage(m *yaml.Node, img Image, found map[string]bool) []Edit {
	name := field(m, "name")
	if name == nil || name.Value != img.Name {
		return nil
	}
	found[img.Name] = true
	from := describe(m)
	if img.NewName != img.Name {
		set(m, "newName", img.NewName)
	} else {
		remove(m, "newName")
	}
	if img.Digest != "" {
		set(m, "digest", img.Digest)
		remove(m, "newTag")
	} else {
		set(m, "newTag", img.Tag)
		remove(m, "digest")
	}
	return []Edit{{Image: img.Name, From: from, To: describe(m)}}
}

// repositoryTag updates Helm-values style {repository: name, tag: x}.
func repositoryTag(m *yaml.Node, img Image, found map[string]bool) []Edit {
	repo, tag := field(m, "repository"), field(m, "tag")
	if repo == nil || tag == nil || repo.Value != img.Name {
		return nil
	}
	found[img.Name] = true
	from := repo.Value + ":" + tag.Value
	repo.Value = img.NewName
	if img.Digest != "" {
		tag.Value = "@" + img.Digest
	} else {
		tag.Value = img.Tag
	}
	return []Edit{{Image: img.Name, From: from, To: repo.Value + ":" + tag.Value}}
}

func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1]
		}
	}
	return nil
}

func set(m *yaml.Node, key, value string) {
	if f := field(m, key); f != nil {
		f.Value, f.Tag, f.Style = value, "!!str", 0
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func describe(m *yaml.Node) string {
	var parts []string
	for _, k := range []string{"newName", "newTag", "digest"} {
		if f := field(m, k); f != nil {
			parts = append(parts, k+"="+f.Value)
		}
	}
	if len(parts) == 0 {
		return "(unchanged)"
	}
	return strings.Join(parts, " ")
}
