package sealing

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/groundwork-dev/groundwork/internal/keys"
)

// The file key store is one file, mode 0600, holding every key pair of the
// environment oldest first: PEM blocks, each certificate followed by its
// private key (a file with a single pair, as groundwork wrote before it
// kept several, is a store with one key). Writes never change the bytes
// already there: a new pair is appended to a copy written beside the file,
// synced, and renamed over it.

// ChangedError says the key store changed on disk while groundwork was
// adding keys to it, again and again: another process writes it.
type ChangedError struct{ Path string }

func (e *ChangedError) Error() string {
	return fmt.Sprintf("the sealing key store %s kept changing while groundwork added a key to it: another groundwork (or something else) is writing it; nothing was lost, run the command again once the other one has finished", e.Path)
}

// Load reads the first (oldest) key pair of a file store: the one kept in
// the cluster as Secret SecretName. A missing file is a
// *keys.NotFoundError, a file others can read is refused. LoadKeys reads
// every pair.
func Load(path string) (*KeyPair, error) {
	k, err := LoadKeys(path)
	if err != nil {
		return nil, err
	}
	return k[0], nil
}

// LoadKeys reads every key pair of a file store, oldest first; there is
// at least one. A missing file is a *keys.NotFoundError, a file others can
// read is refused.
func LoadKeys(path string) (Keys, error) {
	k, _, err := read(path)
	return k, err
}

// read returns the store's pairs and its bytes.
func read(path string) (Keys, []byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &keys.NotFoundError{Where: path}
	}
	if err != nil {
		return nil, nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, nil, fmt.Errorf("refusing to use the sealing key in %s: others can access it (mode %04o); run chmod 600 %s, and rotate the key if it may have leaked", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	k, err := parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a sealing key pair (a PEM certificate and its RSA key): %w", path, err)
	}
	return k, b, nil
}

// parse reads the pairs: each certificate with the private key next to it
// (in either order); other PEM blocks and text between blocks are ignored.
func parse(b []byte) (Keys, error) {
	var out Keys
	var cert, key []byte
	n := func() int { return len(out) + 1 }
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			if cert != nil {
				return nil, fmt.Errorf("key pair %d: a certificate without its private key", n())
			}
			cert = pem.EncodeToMemory(blk)
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			if key != nil {
				return nil, fmt.Errorf("key pair %d: a private key without its certificate", n())
			}
			key = pem.EncodeToMemory(blk)
		default:
			continue
		}
		if cert != nil && key != nil {
			kp := &KeyPair{CertPEM: cert, KeyPEM: key}
			if err := kp.check(); err != nil {
				if len(out) == 0 && len(bytes.TrimSpace(rest)) == 0 {
					return nil, err // a one-pair file: the error as it always was
				}
				return nil, fmt.Errorf("key pair %d: %w", n(), err)
			}
			out = append(out, kp)
			cert, key = nil, nil
		}
	}
	switch {
	case cert != nil:
		return nil, fmt.Errorf("key pair %d: a certificate without its private key", n())
	case key != nil:
		return nil, fmt.Errorf("key pair %d: a private key without its certificate", n())
	case len(out) == 0:
		return nil, (&KeyPair{}).check()
	}
	return out, nil
}

// Create writes a new store holding kp (0600); it never overwrites. The
// file appears whole or not at all.
func Create(path string, kp *KeyPair) error {
	if err := kp.check(); err != nil {
		return fmt.Errorf("not a sealing key pair: %w", err)
	}
	if err := publish(path, encode(nil, kp), nil); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("a key already exists in %s; groundwork never overwrites a key", path)
		}
		return err
	}
	return nil
}

// LoadOrCreate loads every key pair, generating and storing one if the
// store has none.
func LoadOrCreate(path string, now time.Time) (k Keys, created bool, err error) {
	k, err = LoadKeys(path)
	var nf *keys.NotFoundError
	if !errors.As(err, &nf) {
		return k, false, err
	}
	kp, err := Generate(now)
	if err != nil {
		return nil, false, err
	}
	if err := Create(path, kp); err != nil {
		return nil, false, err
	}
	return Keys{kp}, true, nil
}

// Append adds the key pairs the store does not hold yet after the ones it
// holds (creating the store when there is none), and returns every pair
// and those it added. The bytes already in the file stay as they are: the
// new file is written beside it, synced and renamed over it, so a crash
// leaves the old store or the new one, never less. A store that changes
// on disk meanwhile is read again (a *ChangedError after a few tries); the
// check and the rename are not one atomic step, so writers of one store
// (up, keys rotate) must also hold the environment's lock, as they do.
func Append(path string, add ...*KeyPair) (all Keys, added []*KeyPair, err error) {
	for _, kp := range add {
		if err := kp.check(); err != nil {
			return nil, nil, fmt.Errorf("not a sealing key pair: %w", err)
		}
	}
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// The store is a link (to a mounted secrets folder, say): write
		// where it points and keep the link.
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return nil, nil, err
		}
	}
	for range 5 {
		cur, old, err := read(target)
		var nf *keys.NotFoundError
		if errors.As(err, &nf) {
			cur, old, err = nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		added = added[:0]
		for _, kp := range add {
			if !cur.Contains(kp) && !Keys(added).Contains(kp) {
				added = append(added, kp)
			}
		}
		if len(added) == 0 {
			return cur, nil, nil
		}
		data := encode(old, added...)
		if err := publish(target, data, old); err != nil {
			if errors.Is(err, errChanged) || errors.Is(err, fs.ErrExist) {
				continue
			}
			return nil, nil, err
		}
		return append(append(Keys{}, cur...), added...), added, nil
	}
	return nil, nil, &ChangedError{Path: path}
}

// SortOldestFirst orders key pairs by their certificates' NotBefore.
func SortOldestFirst(kps []*KeyPair) {
	sort.SliceStable(kps, func(i, j int) bool { return kps[i].NotBefore().Before(kps[j].NotBefore()) })
}

// encode appends the pairs to the store's bytes.
func encode(old []byte, kps ...*KeyPair) []byte {
	b := append([]byte{}, old...)
	for _, kp := range kps {
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		b = append(b, kp.CertPEM...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		b = append(b, kp.KeyPEM...)
	}
	return b
}

var errChanged = errors.New("the key store changed meanwhile")

// publish writes data to a temporary file (0600) in path's folder, syncs
// it and puts it in place: as a new file when old is nil (an error
// wrapping fs.ErrExist when one appeared meanwhile), over the file when it
// still holds old (errChanged otherwise).
func publish(path string, data, old []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if old == nil {
		// A hard link fails when the file exists: no store is ever
		// overwritten by a new one.
		if err := os.Link(name, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return err
			}
			// No hard links on this file system.
			if _, serr := os.Lstat(path); serr == nil {
				return fs.ErrExist
			}
			if err := os.Rename(name, path); err != nil {
				return err
			}
		}
	} else {
		cur, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(cur, old) {
			return errChanged
		}
		if err := os.Rename(name, path); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
