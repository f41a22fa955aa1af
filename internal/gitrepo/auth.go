package gitrepo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Credentials are a repository's auth settings resolved to their values.
// They are secret: never print them.
type Credentials struct {
	// HTTPS: a user name and a token.
	Username, Token string
	// SSH: a private key and the known_hosts lines to verify the server.
	SSHKey, KnownHosts []byte
}

// ResolveCredentials reads the token from the environment or the key and
// known_hosts files. It returns nil, nil for a repository without auth.
func ResolveCredentials(a spec.RepositoryAuth, environ []string) (*Credentials, error) {
	switch {
	case a.TokenEnv != "":
		tok := lookup(environ, a.TokenEnv)
		if tok == "" {
			return nil, fmt.Errorf("repository auth: the environment variable %s (token_env) is not set or empty; export the Git token in it", a.TokenEnv)
		}
		return &Credentials{Username: a.Username, Token: tok}, nil
	case a.SSHKeyFile != "":
		key, err := os.ReadFile(a.SSHKeyFile)
		if err != nil {
			return nil, fmt.Errorf("repository auth: read ssh_key_file: %w", err)
		}
		if _, err := ssh.ParseRawPrivateKey(key); err != nil {
			return nil, fmt.Errorf("repository auth: %s is not an unencrypted SSH private key (%v); groundwork and the reconciler need a key without passphrase", a.SSHKeyFile, err)
		}
		khf := a.KnownHostsFile
		if khf == "" {
			home, _ := os.UserHomeDir()
			khf = filepath.Join(home, ".ssh", "known_hosts")
		}
		kh, err := os.ReadFile(khf)
		if err != nil {
			return nil, fmt.Errorf("repository auth: read known hosts: %w; set known_hosts_file to a file with the Git server's host key (ssh-keyscan HOST)", err)
		}
		return &Credentials{SSHKey: key, KnownHosts: kh}, nil
	}
	return nil, nil
}

// AuthMethod is the go-git transport auth of the credentials; nil for none.
func (c *Credentials) AuthMethod() (transport.AuthMethod, error) {
	switch {
	case c == nil:
		return nil, nil
	case c.Token != "":
		return &githttp.BasicAuth{Username: c.Username, Password: c.Token}, nil
	}
	keys, err := gitssh.NewPublicKeys("git", c.SSHKey, "")
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "groundwork-known-hosts-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(c.KnownHosts); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	keys.HostKeyCallback = cb
	return keys, nil
}

// SecretData is the credentials in the layout Flux's source-controller
// reads from a Secret.
func (c *Credentials) SecretData() map[string][]byte {
	if c.Token != "" {
		return map[string][]byte{"username": []byte(c.Username), "password": []byte(c.Token)}
	}
	return map[string][]byte{"identity": c.SSHKey, "known_hosts": c.KnownHosts}
}

func lookup(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
			return v
		}
	}
	return ""
}
