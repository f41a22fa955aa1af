package spec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// --- addons ---

var addonSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "chart"}, {Name: "repository", Required: true}, {Name: "version", Required: true},
		{Name: "namespace"}, {Name: "create_namespace"}, {Name: "values"}, {Name: "depends_on"},
	},
}

func (d *decoder) decodeAddons(blocks hcl.Blocks) []Addon {
	var addons []Addon
	index := map[string]int{}
	dependsRanges := map[string]hcl.Range{}
	for _, b := range blocks {
		a := Addon{Name: b.Labels[0], DeclRange: b.DefRange, CreateNamespace: true}
		if i, dup := index[a.Name]; dup {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate addon", "Addon %q is already declared at %s; addon names must be unique.", a.Name, addons[i].DeclRange)
			continue
		}
		if !dnsLabel.MatchString(a.Name) || len(a.Name) > 53 {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid addon name",
				"%q becomes a Helm release name: use at most 53 lowercase letters, digits and dashes.", a.Name)
		}
		a.Chart.Name, a.Namespace = a.Name, a.Name
		c := d.content(b.Body, addonSchema)
		if c != nil {
			d.nonEmpty(c.Attributes, "chart", &a.Chart.Name)
			d.chartRepo(c.Attributes, "repository", &a.Chart.Repository)
			d.pinnedVersion(c.Attributes, "version", &a.Version)
			if d.str(c.Attributes, "namespace", &a.Namespace) && !dnsLabel.MatchString(a.Namespace) {
				d.errorf(c.Attributes["namespace"].Expr.Range().Ptr(), "Invalid namespace", "%q is not a valid Kubernetes namespace name.", a.Namespace)
			}
			d.boolean(c.Attributes, "create_namespace", &a.CreateNamespace)
			d.object(c.Attributes, "values", &a.Values)
			if d.strList(c.Attributes, "depends_on", &a.DependsOn) {
				dependsRanges[a.Name] = c.Attributes["depends_on"].Expr.Range()
			}
		}
		index[a.Name] = len(addons)
		addons = append(addons, a)
	}
	names := sortedKeys(index)
	for _, a := range addons {
		for _, dep := range a.DependsOn {
			rng := dependsRanges[a.Name]
			switch _, ok := index[dep]; {
			case dep == a.Name:
				d.errorf(&rng, "Addon depends on itself", "Addon %q lists itself in depends_on; remove it.", a.Name)
			case !ok:
				d.errorf(&rng, "Unknown addon in depends_on", "Addon %q depends on %q, which is not declared.%s", a.Name, dep, didYouMean(dep, names))
			}
		}
	}
	if cycle := dependencyCycle(addons, index); cycle != nil {
		rng := dependsRanges[cycle[0]]
		d.errorf(&rng, "Addon dependency cycle", "The addons depend on each other in a cycle: %s. Remove one of the depends_on entries.", strings.Join(cycle, " -> "))
	}
	return addons
}

// dependencyCycle returns one cycle of addon dependencies, or nil.
func dependencyCycle(addons []Addon, index map[string]int) []string {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(addons))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = visiting
		stack = append(stack, addons[i].Name)
		for _, dep := range addons[i].DependsOn {
			j, ok := index[dep]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case visiting:
				for k, n := range stack {
					if n == dep {
						return append(append([]string{}, stack[k:]...), dep)
					}
				}
			case unvisited:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range addons {
		if state[i] == unvisited {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}
