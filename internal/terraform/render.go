package terraform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Backend is a Terraform backend: its type and settings, written into the
// backend configuration file (a partial configuration) so that the root
// module holds no credential.
type Backend struct {
	Type   string
	Config map[string]cty.Value
}

// RootModule is the root module groundwork writes into the working
// directory: one call of a module with the environment's values, and the
// module's outputs re-exported.
type RootModule struct {
	// Header is a comment at the top of main.tf.
	Header string
	// ModuleName names the module block ("cluster").
	ModuleName string
	// Source is the module's source, like "./modules/eks".
	Source string
	// Inputs are the module's arguments.
	Inputs map[string]cty.Value
	// Outputs are re-exported at the root, with their sensitivity.
	Outputs []Output
	// Backend is the backend type; nil means local state in the working
	// directory.
	Backend *Backend
}

// Output is an output of the root module.
type Output struct {
	Name      string
	Sensitive bool
}

// Render returns main.tf.
func (m RootModule) Render() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	tf := body.AppendNewBlock("terraform", nil).Body()
	tf.SetAttributeValue("required_version", cty.StringVal(">= "+MinVersion))
	if m.Backend != nil {
		tf.AppendNewBlock("backend", []string{m.Backend.Type})
	}
	body.AppendNewline()
	mod := body.AppendNewBlock("module", []string{m.ModuleName}).Body()
	mod.SetAttributeValue("source", cty.StringVal(m.Source))
	mod.AppendNewline()
	for _, k := range sortedKeys(m.Inputs) {
		mod.SetAttributeValue(k, m.Inputs[k])
	}
	for _, o := range m.Outputs {
		body.AppendNewline()
		ob := body.AppendNewBlock("output", []string{o.Name}).Body()
		ob.SetAttributeTraversal("value", traversal("module", m.ModuleName, o.Name))
		if o.Sensitive {
			ob.SetAttributeValue("sensitive", cty.True)
		}
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(m.Header), "\n") {
		if l != "" {
			b.WriteString("# " + l + "\n")
		}
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.Write(hclwrite.Format(f.Bytes()))
	return []byte(b.String())
}

// RenderBackendConfig returns the backend configuration file: the
// backend's settings as HCL attributes.
func RenderBackendConfig(b *Backend) []byte {
	f := hclwrite.NewEmptyFile()
	if b == nil {
		return f.Bytes()
	}
	for _, k := range sortedKeys(b.Config) {
		f.Body().SetAttributeValue(k, b.Config[k])
	}
	return hclwrite.Format(f.Bytes())
}

// ValidateBackend checks the settings' names are HCL identifiers.
func ValidateBackend(b *Backend) error {
	if !hclsyntax.ValidIdentifier(b.Type) {
		return fmt.Errorf("%q is not a Terraform backend name", b.Type)
	}
	for k := range b.Config {
		if !hclsyntax.ValidIdentifier(k) {
			return fmt.Errorf("backend %s: %q is not a setting name", b.Type, k)
		}
	}
	return nil
}

func traversal(names ...string) hcl.Traversal {
	t := hcl.Traversal{hcl.TraverseRoot{Name: names[0]}}
	for _, n := range names[1:] {
		t = append(t, hcl.TraverseAttr{Name: n})
	}
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
