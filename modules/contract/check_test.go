package contract

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdataSource serves testdata/child as example/child/aws 1.0.0.
type testdataSource struct{}

func (testdataSource) String() string { return "testdata" }

func (testdataSource) Open(address, version string) (fs.FS, string, error) {
	if NormalizeAddress(address) == "example/child/aws" && version == "1.0.0" {
		return os.DirFS(filepath.Join("testdata", "child")), "testdata/child", nil
	}
	return nil, "", ErrNotFound
}

var terraformVersions = []string{"1.10.0", "1.11.4"}

func checkWrapper(t *testing.T, name string) Report {
	t.Helper()
	m, err := LoadDir(os.DirFS(filepath.Join("testdata", "wrappers")), name, "wrappers/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return Check(m, &Resolver{Source: testdataSource{}}, terraformVersions)
}

// TestCheckFinds runs the check over synthetic wrappers of testdata/child,
// each broken in one way, and wants exactly the problems that way gives.
func TestCheckFinds(t *testing.T) {
	for _, tc := range []struct {
		wrapper string
		// want are, for each problem expected, its check and words its
		// message has, in order.
		want [][]string
	}{
		{"ok", nil},
		{"misspelled-argument", [][]string{{"argument", "main.tf:6", `passes "sise"`, `did you mean "size"?`}}},
		{"missing-required", [][]string{{"required", "main.tf:1", `does not set "name"`, "variables.tf:1"}}},
		{"missing-output", [][]string{
			{"output", "main.tf:9", "module.child.idd", `no output "idd"`, `did you mean "id"?`},
			{"output", "main.tf:13", "module.other", "no module block"},
		}},
		{"object-attribute-type", [][]string{{"type", "main.tf:6", "pool.name is tuple([string]), which does not convert to string"}}},
		{"object-attribute-missing", [][]string{{"type", "main.tf:6", `pool lacks attribute "name" (string)`}}},
		{"object-attribute-unknown", [][]string{{"type", "main.tf:6", `pool has attribute "cuont"`, `did you mean "count"?`}}},
		{"value-conversion", [][]string{{"type", "main.tf:6", "size does not convert", "a number is required"}}},
		{"null-non-nullable", [][]string{{"type", "main.tf:6", `null to "zone"`, "not nullable"}}},
		{"disjoint-provider", [][]string{{"provider", "wrappers/disjoint-provider/main.tf:3", "hashicorp/aws", `">= 6.0"`, `example/child/aws@1.0.0/versions.tf:5 (">= 5.0, < 6.0")`}}},
		{"disjoint-provider-subtree", [][]string{{"provider", "wrappers/disjoint-provider-subtree/main.tf:3", `"~> 5.5.0"`, `example/child/aws@1.0.0/modules/part/main.tf:3 (">= 5.10")`}}},
		{"old-terraform", [][]string{{"terraform", "main.tf:2", `"~> 1.9.0" does not admit Terraform 1.10.0`}, {"terraform", "main.tf:2", "1.11.4"}}},
		{"unpinned", [][]string{{"source", "main.tf:1", `">= 1.0.0"`, "not one exact version"}}},
		{"not-in-source", [][]string{{"source", "main.tf:1", "example/other/aws"}}},
	} {
		t.Run(tc.wrapper, func(t *testing.T) {
			rep := checkWrapper(t, tc.wrapper)
			if len(rep.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(rep.Problems), len(tc.want), problems(rep))
				return
			}
			for i, p := range rep.Problems {
				want := tc.want[i]
				if p.Check != want[0] {
					t.Errorf("problem %d is a %s problem, want %s: %s", i, p.Check, want[0], p)
				}
				s := p.String()
				for _, w := range want[1:] {
					if !strings.Contains(s, w) {
						t.Errorf("problem %d does not say %q: %s", i, w, s)
					}
				}
				if p.Check != "terraform" && !strings.HasPrefix(p.Pos, "wrappers/"+tc.wrapper+"/main.tf:") {
					t.Errorf("problem %d is not placed in the wrapper: %s", i, s)
				}
				if !strings.Contains(s, "fix: ") {
					t.Errorf("problem %d says no fix: %s", i, s)
				}
			}
		})
	}
}

func problems(rep Report) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

func TestIntersect(t *testing.T) {
	for _, tc := range []struct {
		cs   []string
		want string // "" for none
	}{
		{[]string{">= 5.95, < 6.0", ">= 5.95, < 6.0.0", ">= 5.79"}, "5.95.0"},
		{[]string{">= 6.0", ">= 5.0, < 6.0"}, ""},
		{[]string{"~> 2.10", ">= 2.1"}, "2.10.0"},
		{[]string{"~> 2.10", ">= 3.0"}, ""},
		{[]string{"> 1.2", "< 1.2.1"}, ""},
		{[]string{"> 1.2", "<= 1.2.1"}, "1.2.1"},
		{[]string{">= 1.0.0", "!= 1.0.0", "!= 1.0.1"}, "1.0.2"},
		{[]string{"1.4.0", ">= 1.4"}, "1.4.0"},
		{[]string{"1.4.0", "!= 1.4.0"}, ""},
		{[]string{"< 1.0"}, "0.0.0"},
		{[]string{""}, "0.0.0"},
	} {
		v, err := Intersect(tc.cs...)
		if err != nil {
			t.Errorf("%q: %v", tc.cs, err)
			continue
		}
		got := ""
		if v != nil {
			got = v.String()
		}
		if got != tc.want {
			t.Errorf("Intersect(%q) = %q, want %q", tc.cs, got, tc.want)
		}
	}
	if _, err := Intersect(">= banana"); err == nil {
		t.Error("a malformed constraint intersects")
	}
}

func TestCompareInterfaces(t *testing.T) {
	child, err := LoadDir(os.DirFS("testdata"), "child", "child")
	if err != nil {
		t.Fatal(err)
	}
	if p := CompareInterfaces(child, child); len(p) != 0 {
		t.Errorf("a module differs from itself: %v", p)
	}
	fake, err := LoadFile("fake.tf", []byte(`
variable "name" {
  type    = string
  default = "x"
}
variable "size" {
  type    = number
  default = 1
}
variable "pool" {
  type = object({
    name  = string
    count = optional(number, 2)
  })
  default = null
}
variable "labels" {
  type    = map(string)
  default = {}
}
variable "zone" {
  type    = string
  default = "a"
}
variable "extra" {
  type = string
}
output "id" {
  value = "x"
}
output "secret" {
  value = "y"
}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range CompareInterfaces(child, fake) {
		got = append(got, p.String())
	}
	want := []string{
		`variable "name": required false, but true`,
		`variable "name": default x, but <nil>`,
		`variable "pool": type object({ name = string count = optional(number, 2) })`,
		`variable "zone": nullable true, but false`,
		`variable "extra" is not a variable of child`,
		`output "secret": sensitive false, but true`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d: %s\nwant it to say %s", i, got[i], want[i])
		}
	}
}

// tarGz archives testdata/child under one top-level folder.
func tarGz(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	root := filepath.Join("testdata", "child")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if err := tw.WriteHeader(&tar.Header{Name: "child-1.0.0/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestArchives(t *testing.T) {
	dir := t.TempDir()
	data := tarGz(t)
	if err := os.WriteFile(filepath.Join(dir, "child-1.0.0.tar.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	pin := Pin{Address: "example/child/aws", Version: "1.0.0", Archive: "child-1.0.0.tar.gz", SHA256: hex.EncodeToString(sum[:])}

	fsys, from, err := NewArchives(dir, []Pin{pin}).Open("registry.terraform.io/Example/child/aws", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(fsys, "modules/part/main.tf"); err != nil || from != filepath.Join(dir, pin.Archive) {
		t.Errorf("archive tree: %v (from %s)", err, from)
	}
	m, err := LoadDir(fsys, ".", "example/child/aws@1.0.0")
	if err != nil || m.Config.Variables["name"] == nil {
		t.Fatalf("loading the archived module: %v", err)
	}

	if _, _, err := NewArchives(dir, []Pin{pin}).Open("example/child/aws", "1.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unpinned version: %v", err)
	}
	bad := pin
	bad.SHA256 = strings.Repeat("0", 64)
	if _, _, err := NewArchives(dir, []Pin{bad}).Open("example/child/aws", "1.0.0"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("an archive that is not the pinned one: %v", err)
	}
	if _, _, err := NewArchives(t.TempDir(), []Pin{pin}).Open("example/child/aws", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing archive: %v", err)
	}
}

func TestWorkDir(t *testing.T) {
	wd := t.TempDir()
	mods := filepath.Join(wd, ".terraform", "modules")
	if err := os.CopyFS(filepath.Join(mods, "cluster.child"), os.DirFS(filepath.Join("testdata", "child"))); err != nil {
		t.Fatal(err)
	}
	manifest := `{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"cluster","Source":"./modules/x","Dir":"modules/x"},` +
		`{"Key":"cluster.child","Source":"registry.terraform.io/example/child/aws","Version":"1.0.0","Dir":".terraform/modules/cluster.child"}]}`
	if err := os.WriteFile(filepath.Join(mods, "modules.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, err := SourcesAt(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srcs[0].(WorkDir); !ok || len(srcs) != 1 {
		t.Fatalf("sources %v", srcs)
	}
	m, err := LoadDir(os.DirFS(filepath.Join("testdata", "wrappers")), "ok", "wrappers/ok")
	if err != nil {
		t.Fatal(err)
	}
	if rep := Check(m, &Resolver{Source: srcs}, terraformVersions); len(rep.Problems) != 0 {
		t.Errorf("the module from .terraform/modules:\n%s", problems(rep))
	}
	if _, _, err := srcs.Open("example/child/aws", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a version terraform init did not fetch: %v", err)
	}
	if _, err := SourcesAt(t.TempDir()); err == nil {
		t.Error("an empty folder is a source")
	}
}
