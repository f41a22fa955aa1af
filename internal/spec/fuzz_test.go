package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the decoder: it must never panic, and
// must yield an environment exactly when it reports no error.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.hcl")
	examples, _ := filepath.Glob("../../environments/*.hcl")
	for _, s := range append(seeds, examples...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	opts := Options{Home: "/home/user", ConfigDir: "/home/user/.config"}
	f.Fuzz(func(t *testing.T, src []byte) {
		res := Parse("fuzz.hcl", src, opts)
		if res.Diags.HasErrors() != (res.Env == nil) {
			t.Fatalf("errors=%v but env=%v", res.Diags.HasErrors(), res.Env != nil)
		}
	})
}
