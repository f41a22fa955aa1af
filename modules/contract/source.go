package contract

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing/fstest"
)

// ErrNotFound is what a Source's Open error is (errors.Is) when the source
// does not hold the module.
var ErrNotFound = errors.New("not found")

// notFound is an ErrNotFound that says what was looked for and where.
type notFound string

func (e notFound) Error() string      { return string(e) }
func (notFound) Is(target error) bool { return target == ErrNotFound }

func notFoundf(format string, args ...any) error { return notFound(fmt.Sprintf(format, args...)) }

// A Source holds the source trees of registry modules at exact versions.
type Source interface {
	// Open returns the tree of the registry module address
	// (namespace/name/provider) at version, with the module's root folder at
	// the root of the file system, and says where the tree was read from.
	// The error wraps ErrNotFound when the source does not hold the module.
	Open(address, version string) (fsys fs.FS, from string, err error)
	// String says where the source looks.
	String() string
}

// NormalizeAddress returns a registry module address without the public
// registry's host and in lower case (registry addresses are
// case-insensitive).
func NormalizeAddress(addr string) string {
	addr = strings.TrimPrefix(strings.ToLower(addr), "registry.terraform.io/")
	return addr
}

// Archives is a folder of archives of Pinned modules. Every archive is
// checked against its pinned sha256 before it is read.
type Archives struct {
	Dir  string
	Pins []Pin

	mu     sync.Mutex
	opened map[string]fs.FS
}

// NewArchives reads the archives of pins in dir.
func NewArchives(dir string, pins []Pin) *Archives {
	return &Archives{Dir: dir, Pins: pins, opened: map[string]fs.FS{}}
}

func (a *Archives) String() string { return "the archives in " + a.Dir }

// Open implements Source.
func (a *Archives) Open(address, version string) (fs.FS, string, error) {
	var pin *Pin
	for i := range a.Pins {
		if NormalizeAddress(a.Pins[i].Address) == NormalizeAddress(address) && a.Pins[i].Version == version {
			pin = &a.Pins[i]
		}
	}
	if pin == nil {
		return nil, "", notFoundf("%s %s has no pinned archive (contract.Pinned)", address, version)
	}
	file := filepath.Join(a.Dir, pin.Archive)
	a.mu.Lock()
	defer a.mu.Unlock()
	if fsys, ok := a.opened[file]; ok {
		return fsys, file, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", notFoundf("%s %s: no archive %s", address, version, file)
	}
	if err != nil {
		return nil, "", err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != pin.SHA256 {
		return nil, "", fmt.Errorf("%s: sha256 %x, but %s %s is pinned at %s: the archive is not the pinned release; archive %s at commit %s (tag of %s) again",
			file, sum, address, version, pin.SHA256, pin.Repository, pin.Commit, version)
	}
	fsys, err := readTarGz(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	a.opened[file] = fsys
	return fsys, file, nil
}

// maxArchive bounds what an archive may unpack to in memory.
const maxArchive = 256 << 20

// readTarGz reads a tar.gz of one top-level folder into memory, that
// folder at the root.
func readTarGz(data []byte) (fs.FS, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	out := fstest.MapFS{}
	links := map[string]string{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		_, rest, ok := strings.Cut(name, "/")
		if !ok || rest == "" {
			continue // the top-level folder itself
		}
		if !fs.ValidPath(rest) {
			return nil, fmt.Errorf("bad path %q", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			total += h.Size
			if total > maxArchive {
				return nil, fmt.Errorf("unpacks to more than %d bytes", maxArchive)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			out[rest] = &fstest.MapFile{Data: b, Mode: 0o444}
		case tar.TypeDir:
			out[rest] = &fstest.MapFile{Mode: fs.ModeDir | 0o555}
		case tar.TypeSymlink:
			links[rest] = path.Join(path.Dir(rest), h.Linkname)
		}
	}
	for name, target := range links {
		if f, ok := out[target]; ok && !f.Mode.IsDir() {
			out[name] = f
		} else if strings.HasSuffix(name, ".tf") {
			return nil, fmt.Errorf("%s is a link to %s, which the archive does not hold as a file", name, target)
		}
	}
	return out, nil
}

// WorkDir is a Terraform working directory that terraform init has
// fetched modules into: .terraform/modules/modules.json maps each module
// call's key ("cluster.eks") to its source, version and folder.
type WorkDir struct {
	Dir string
}

func (w WorkDir) String() string {
	return filepath.Join(w.Dir, ".terraform", "modules")
}

// IsWorkDir says whether dir has a .terraform/modules/modules.json.
func IsWorkDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".terraform", "modules", "modules.json"))
	return err == nil
}

type modulesJSON struct {
	Modules []struct {
		Key     string `json:"Key"`
		Source  string `json:"Source"`
		Version string `json:"Version"`
		Dir     string `json:"Dir"`
	} `json:"Modules"`
}

// Open implements Source.
func (w WorkDir) Open(address, version string) (fs.FS, string, error) {
	manifest := filepath.Join(w.Dir, ".terraform", "modules", "modules.json")
	data, err := os.ReadFile(manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", notFoundf("no %s", manifest)
	}
	if err != nil {
		return nil, "", err
	}
	var m modulesJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, "", fmt.Errorf("%s: %w", manifest, err)
	}
	for _, e := range m.Modules {
		if NormalizeAddress(e.Source) != NormalizeAddress(address) || e.Version != version {
			continue
		}
		dir := filepath.Join(w.Dir, filepath.FromSlash(e.Dir))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, "", fmt.Errorf("%s: module %s (%s %s) is in %s, which is not a folder", manifest, e.Key, address, version, dir)
		}
		return os.DirFS(dir), dir, nil
	}
	return nil, "", notFoundf("%s lists no %s %s", manifest, address, version)
}

// Sources tries each source in turn.
type Sources []Source

func (s Sources) String() string {
	var names []string
	for _, x := range s {
		names = append(names, x.String())
	}
	return strings.Join(names, ", ")
}

// Open implements Source: the first source holding the module.
func (s Sources) Open(address, version string) (fs.FS, string, error) {
	var missing []string
	for _, x := range s {
		fsys, from, err := x.Open(address, version)
		if err == nil {
			return fsys, from, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, "", err
		}
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		return nil, "", notFoundf("%s %s: no source to look in", address, version)
	}
	return nil, "", notFound(strings.Join(missing, "; "))
}

// SourcesAt makes a Source of each path in list (separated by
// os.PathListSeparator): a Terraform working directory after terraform
// init (it has .terraform/modules/modules.json), or a folder of the Pinned
// archives. It fails on a path that is neither.
func SourcesAt(list string) (Sources, error) {
	var out Sources
	for _, p := range filepath.SplitList(list) {
		if p == "" {
			continue
		}
		if IsWorkDir(p) {
			out = append(out, WorkDir{Dir: p})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a folder", p)
		}
		var found bool
		for _, pin := range Pinned {
			if _, err := os.Stat(filepath.Join(p, pin.Archive)); err == nil {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s holds neither .terraform/modules/modules.json nor any archive of contract.Pinned", p)
		}
		out = append(out, NewArchives(p, Pinned))
	}
	if len(out) == 0 {
		return nil, errors.New("no path given")
	}
	return out, nil
}
