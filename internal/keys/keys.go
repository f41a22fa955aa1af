package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
)

// NotFoundError says a store holds no key for the environment.
type NotFoundError struct {
	// Where is the key's expected location: a path or a variable name.
	Where string
}

func (e *NotFoundError) Error() string { return "no key at " + e.Where }

// FileStore keeps one age identity in a file, mode 0600.
type FileStore struct{ Path string }

// Load reads the identity. It refuses a file that others can read.
func (s FileStore) Load() (*age.X25519Identity, error) {
	fi, err := os.Stat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Where: s.Path}
	}
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("refusing to use the key in %s: others can access it (mode %04o); run chmod 600 %s, and rotate the key if it may have leaked", s.Path, perm, s.Path)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, err
	}
	id, err := parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return id, nil
}

// Create stores id in a new file; it never overwrites an existing key.
func (s FileStore) Create(id *age.X25519Identity) error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("a key already exists in %s; groundwork never overwrites a key", s.Path)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(s.Path)
	}
	return err
}

// EnvStore reads the identity from an environment variable (CI secrets).
type EnvStore struct {
	Variable string
	Environ  []string
}

// Load reads the identity.
func (s EnvStore) Load() (*age.X25519Identity, error) {
	for _, kv := range s.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == s.Variable && v != "" {
			id, err := parse(v)
			if err != nil {
				return nil, fmt.Errorf("environment variable %s: %w", s.Variable, err)
			}
			return id, nil
		}
	}
	return nil, &NotFoundError{Where: "environment variable " + s.Variable}
}

// parse reads an age identity file's text: comments and one identity.
func parse(text string) (*age.X25519Identity, error) {
	ids, err := age.ParseIdentities(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("not an age identity: %w", err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("want exactly one age identity, found %d", len(ids))
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("want an X25519 age identity (AGE-SECRET-KEY-1...)")
	}
	return id, nil
}

// LoadOrCreate returns the identity of a file store, generating and storing
// one when the store has none; created tells which happened.
func LoadOrCreate(s FileStore) (id *age.X25519Identity, created bool, err error) {
	id, err = s.Load()
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return id, false, err
	}
	if id, err = age.GenerateX25519Identity(); err != nil {
		return nil, false, err
	}
	if err := s.Create(id); err != nil {
		return nil, false, err
	}
	return id, true, nil
}
