package root

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/groundwork-dev/groundwork/internal/cmd/cmdtest"
	"github.com/groundwork-dev/groundwork/internal/deploy"
)

// examples are the command lines of every command's Example field and of
// the root's "Start with:" lines, with the command each belongs to.
func examples(cmd *cobra.Command) map[string]string {
	out := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		text := c.Example
		if !c.HasParent() {
			text += "\n" + c.Long
		}
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, "  ") {
				continue // prose; examples are indented
			}
			line, _, _ = strings.Cut(line, "#")
			if i := strings.LastIndex(line, "|"); i >= 0 {
				line = line[i+1:] // vault read ... | groundwork ...
			}
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "groundwork ") {
				out[line] = c.CommandPath()
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
	return out
}

// TestHelpExamples runs every --help example as far as this machine
// allows: the command it names exists, its flags parse, its arguments are
// as many as the command takes, the environment files it names exist (in
// environments/, globs expanded) and load without errors with its --var
// options, and deploy's --image references are valid. The examples named
// files that do not exist (environments/dev.hcl, ci.hcl, prod.hcl).
func TestHelpExamples(t *testing.T) {
	t.Chdir("../../..") // the repository root, where environments/ is
	f, _ := cmdtest.NewFactory()
	n := 0
	for line, owner := range examples(NewCmdRoot(f)) {
		n++
		t.Run(line, func(t *testing.T) {
			var args []string
			for _, a := range strings.Fields(line)[1:] {
				if strings.ContainsAny(a, "*?[") {
					matches, err := filepath.Glob(a)
					if err != nil || len(matches) == 0 {
						t.Fatalf("%s matches no file", a)
					}
					args = append(args, matches...)
					continue
				}
				args = append(args, a)
			}
			f, _ := cmdtest.NewFactory()
			root := NewCmdRoot(f)
			c, rest, err := root.Find(args)
			if err != nil || c == root {
				t.Fatalf("no command: %v", err)
			}
			if c.CommandPath() != owner && owner != root.Name() {
				t.Errorf("the example of %s runs %s", owner, c.CommandPath())
			}
			if err := c.ParseFlags(rest); err != nil {
				t.Fatalf("flags: %v", err)
			}
			positional := c.Flags().Args()
			if err := c.ValidateArgs(positional); err != nil {
				t.Fatalf("arguments: %v", err)
			}
			files := 0
			for _, a := range positional {
				if !strings.HasSuffix(a, ".hcl") {
					continue
				}
				files++
				res := f.LoadSpec(a)
				if res.Diags.HasErrors() {
					t.Errorf("%s: %s", a, res.Diags.Error())
				}
			}
			if files == 0 {
				t.Error("the example names no environment file")
			}
			if c.Name() == "deploy" {
				images, _ := c.Flags().GetStringArray("image")
				for _, img := range images {
					if _, err := deploy.ParseImage(img); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d examples found", n)
	}
}
