package kustomization

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FileName is the name kustomize and Flux look for in a folder.
const FileName = "kustomization.yaml"

// AddResources returns the kustomization with every entry of add listed in
// its resources, appended in the given order after what is there; the rest
// of the file, comments included, is left as it is. A file that already
// lists them all is returned unchanged, byte for byte.
func AddResources(existing []byte, add []string) ([]byte, error) {
	if len(bytes.TrimSpace(stripComments(existing))) == 0 {
		existing = append([]byte{}, existing...)
		if len(existing) > 0 && existing[len(existing)-1] != '\n' {
			existing = append(existing, '\n')
		}
		existing = append(existing, "resources:\n"...)
		for _, a := range add {
			existing = append(existing, "- "+a+"\n"...)
		}
		return existing, nil
	}
	node, err := yaml.Parse(string(existing))
	if err != nil {
		return nil, fmt.Errorf("not a kustomization groundwork can read: %w", err)
	}
	if node.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a kustomization: the file is not a mapping of fields")
	}
	if k := node.GetKind(); k != "" && k != "Kustomization" {
		return nil, fmt.Errorf("kind is %s, not Kustomization", k)
	}
	listed := map[string]bool{}
	for _, r := range Resources(existing) {
		listed[path.Clean(r)] = true
	}
	var missing []string
	for _, a := range add {
		if !listed[path.Clean(a)] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return existing, nil
	}
	res := node.Field("resources")
	if res == nil {
		// No list yet: one at the end, in kustomize's own style.
		out := append([]byte{}, existing...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "resources:\n"...)
		for _, m := range missing {
			out = append(out, "- "+m+"\n"...)
		}
		return out, nil
	}
	seq := res.Value.YNode()
	if seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("resources is not a list")
	}
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		// resources: [a, b]: kyaml writes the list anew, the rest as is.
		for _, m := range missing {
			seq.Content = append(seq.Content, yaml.NewStringRNode(m).YNode())
		}
		seq.Style = 0
		out, err := node.String()
		return []byte(out), err
	}
	// A block list: new lines after its last item, indented like its
	// first; nothing else of the file changes.
	lines := strings.SplitAfter(string(existing), "\n")
	first, last := seq.Content[0], seq.Content[len(seq.Content)-1]
	if first.Line < 1 || first.Line > len(lines) || first.Column < 3 {
		return nil, fmt.Errorf("resources: cannot place a new entry")
	}
	prefix := lines[first.Line-1][:first.Column-1] // "  - "
	if strings.TrimSpace(prefix) != "-" {
		return nil, fmt.Errorf("resources: cannot place a new entry")
	}
	end := last.Line
	for end < len(lines) && strings.HasPrefix(lines[end], strings.Repeat(" ", len(prefix))) { // a multi-line last item
		end++
	}
	eol := "\n"
	if strings.HasSuffix(lines[end-1], "\r\n") {
		eol = "\r\n"
	}
	var ins []string
	for _, m := range missing {
		ins = append(ins, prefix+m+eol)
	}
	if end > 0 && !strings.HasSuffix(lines[end-1], "\n") {
		lines[end-1] += eol
	}
	out := strings.Join(lines[:end], "") + strings.Join(ins, "") + strings.Join(lines[end:], "")
	return []byte(out), nil
}

// RemoveResources returns the kustomization without the resources entries
// named in remove (compared as clean paths), each removed with its line;
// the rest of the file is left as it is. A file that lists none of them is
// returned unchanged.
func RemoveResources(existing []byte, remove []string) ([]byte, error) {
	drop := map[string]bool{}
	for _, r := range remove {
		drop[path.Clean(r)] = true
	}
	node, err := yaml.Parse(string(existing))
	if err != nil {
		return nil, fmt.Errorf("not a kustomization groundwork can read: %w", err)
	}
	res := node.Field("resources")
	if res == nil || res.Value.YNode().Kind != yaml.SequenceNode {
		return existing, nil
	}
	seq := res.Value.YNode()
	var gone []*yaml.Node
	var keep []*yaml.Node
	for _, item := range seq.Content {
		if item.Kind == yaml.ScalarNode && drop[path.Clean(item.Value)] {
			gone = append(gone, item)
		} else {
			keep = append(keep, item)
		}
	}
	if len(gone) == 0 {
		return existing, nil
	}
	if seq.Style&yaml.FlowStyle != 0 {
		seq.Content = keep
		out, err := node.String()
		return []byte(out), err
	}
	lines := strings.SplitAfter(string(existing), "\n")
	skip := map[int]bool{}
	for _, g := range gone {
		skip[g.Line-1] = true
	}
	var b strings.Builder
	for i, l := range lines {
		if !skip[i] {
			b.WriteString(l)
		}
	}
	return []byte(b.String()), nil
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
		}
	}
	return out
}

// Resources lists a kustomization's resources entries; nil when it has
// none or cannot be read.
func Resources(data []byte) []string {
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil
	}
	return k.Resources
}

// Generated lists, relative to dir, what Flux's kustomize-controller applies
// from dir when dir has no kustomization.yaml: every YAML file holding
// Kubernetes objects, and every sub-folder that has a kustomization.yaml of
// its own (other sub-folders are walked). files maps slash-separated paths
// to contents; skip(p) leaves out a path (a file or folder) and what is
// under it.
func Generated(files map[string][]byte, dir string, skip func(p string) bool) []string {
	dir = path.Clean(dir)
	var out []string
	seen := map[string]bool{}
	var paths []string
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for p := range files {
		if strings.HasPrefix(p, prefix) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
next:
	for _, p := range paths {
		rel := strings.TrimPrefix(p, prefix)
		parts := strings.Split(rel, "/")
		for i := range parts {
			sub := path.Join(dir, path.Join(parts[:i+1]...))
			if skip != nil && skip(sub) {
				continue next
			}
			if i < len(parts)-1 {
				if _, ok := files[path.Join(sub, FileName)]; ok {
					entry := path.Join(parts[:i+1]...)
					if !seen[entry] {
						seen[entry] = true
						out = append(out, entry)
					}
					continue next
				}
			}
		}
		base := parts[len(parts)-1]
		if strings.HasPrefix(base, ".") || base == FileName || !(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")) {
			continue
		}
		if !holdsObjects(files[p]) {
			continue
		}
		out = append(out, rel)
	}
	return out
}

// holdsObjects reports whether a YAML file holds Kubernetes objects, every
// document with an apiVersion and a kind, as kustomize requires.
func holdsObjects(b []byte) bool {
	nodes, err := kio.FromBytes(b)
	if err != nil || len(nodes) == 0 {
		return false
	}
	for _, n := range nodes {
		if n.GetApiVersion() == "" || n.GetKind() == "" {
			return false
		}
	}
	return true
}
