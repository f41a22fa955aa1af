package harness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// GitError carries a failed git command and its output.
type GitError struct {
	Command string
	Output  string
	Err     error
}

func (e *GitError) Error() string {
	return fmt.Sprintf("%s: %v\n%s", e.Command, e.Err, e.Output)
}

func (e *GitError) Unwrap() error { return e.Err }

func runGit(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &GitError{Command: "git " + strings.Join(args, " "), Output: string(out), Err: err}
	}
	return nil
}

// gitRepos is a directory of bare repositories.
type gitRepos struct{ root string }

// create makes an empty bare repository <name>.git whose HEAD is main.
func (g gitRepos) create(name string) error {
	return runGit(g.root, "init", "--quiet", "--bare", "--initial-branch=main", name+".git")
}

// GitHTTPOptions configures StartGitHTTPServer.
type GitHTTPOptions struct {
	// Username and Password enable HTTP basic auth when Username is set.
	Username, Password string
}

// GitHTTPServer serves bare repositories over smart HTTP with the real
// `git http-backend` (CGI), receive-pack enabled.
type GitHTTPServer struct {
	repos gitRepos
	url   string
	opts  GitHTTPOptions
}

// StartGitHTTPServer starts the server on loopback; it stops on cleanup.
func StartGitHTTPServer(t testing.TB, opts GitHTTPOptions) *GitHTTPServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	s := &GitHTTPServer{repos: gitRepos{root: t.TempDir()}, opts: opts}
	h := &cgi.Handler{
		Path: backend,
		Dir:  s.repos.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.repos.root,
			"GIT_HTTP_EXPORT_ALL=1",
			// Enable receive-pack for anyone who got past basic auth.
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
		},
		InheritEnv: []string{"PATH", "HOME"},
		Stderr:     io.Discard,
	}
	var handler http.Handler = h
	if opts.Username != "" {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != opts.Username || p != opts.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="groundwork-git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + l.Addr().String()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// CreateRepo creates an empty bare repository and returns its clone URL
// (http://127.0.0.1:port/<name>.git).
func (s *GitHTTPServer) CreateRepo(t testing.TB, name string) string {
	t.Helper()
	if err := s.repos.create(name); err != nil {
		t.Fatal(err)
	}
	return s.url + "/" + name + ".git"
}

// URL is the server base URL.
func (s *GitHTTPServer) URL() string { return s.url }

// RepoDir returns the bare repository directory of name.
func (s *GitHTTPServer) RepoDir(name string) string { return filepath.Join(s.repos.root, name+".git") }

// GitSSHServer is an in-process SSH server (public-key auth) that execs the
// real git-upload-pack / git-receive-pack on bare repositories.
type GitSSHServer struct {
	repos    gitRepos
	addr     string
	hostKey  ssh.Signer
	config   *ssh.ServerConfig
	mu       sync.Mutex
	authKeys map[string]bool

	// ClientKeyPEM is an OpenSSH private key authorised on the server, for
	// go-git (ssh.NewPublicKeys) and Flux secrets ("identity").
	ClientKeyPEM []byte
	// ClientPublicKey is ClientKeyPEM's public key in authorized_keys format.
	ClientPublicKey []byte
}

// StartGitSSHServer starts the server on loopback with a fresh host key and
// one authorised client key pair; it stops on cleanup.
func StartGitSSHServer(t testing.TB) *GitSSHServer {
	t.Helper()
	s := &GitSSHServer{repos: gitRepos{root: t.TempDir()}, authKeys: map[string]bool{}}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.hostKey, err = ssh.NewSignerFromKey(hostPriv); err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	s.ClientKeyPEM = pem.EncodeToMemory(block)
	sshPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	s.ClientPublicKey = ssh.MarshalAuthorizedKey(sshPub)
	s.Authorize(sshPub)
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.authKeys[string(key.Marshal())] {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown public key")
		},
	}
	s.config.AddHostKey(s.hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serveConn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
	})
	return s
}

// Authorize adds a public key to the server's authorised keys.
func (s *GitSSHServer) Authorize(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authKeys[string(key.Marshal())] = true
}

// Addr is host:port.
func (s *GitSSHServer) Addr() string { return s.addr }

// HostKey returns the server's public host key.
func (s *GitSSHServer) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHosts returns a known_hosts line for the server ("[127.0.0.1]:port ...").
func (s *GitSSHServer) KnownHosts() []byte {
	host, port, _ := net.SplitHostPort(s.addr)
	return []byte(fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(s.HostKey())))
}

// CreateRepo creates an empty bare repository and returns its clone URL
// (ssh://git@127.0.0.1:port/<name>.git).
func (s *GitSSHServer) CreateRepo(t testing.TB, name string) string {
	t.Helper()
	if err := s.repos.create(name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ssh://git@%s/%s.git", s.addr, name)
}

func (s *GitSSHServer) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Minute))
	_, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.serveSession(ch, chReqs)
	}
}

func (s *GitSSHServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			code := s.exec(ch, p.Command, env, req)
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			_, _ = ch.SendRequest("exit-status", false, status)
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// exec runs "git-upload-pack '/repo.git'" style commands.
func (s *GitSSHServer) exec(ch ssh.Channel, command string, env []string, req *ssh.Request) int {
	verb, arg, ok := strings.Cut(command, " ")
	if !ok || (verb != "git-upload-pack" && verb != "git-receive-pack" && verb != "git-upload-archive") {
		_ = req.Reply(false, nil)
		return 127
	}
	rel := strings.Trim(strings.TrimSpace(arg), `'"`)
	rel = filepath.Clean("/" + rel)
	dir := filepath.Join(s.repos.root, rel)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		_ = req.Reply(true, nil)
		fmt.Fprintf(ch.Stderr(), "fatal: '%s' does not appear to be a git repository\n", rel)
		return 128
	}
	_ = req.Reply(true, nil)
	cmd := exec.Command("git", strings.TrimPrefix(verb, "git-"), dir)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// A pipe (not cmd.Stdin = ch): the client keeps its side open until it
	// sees exit-status, so Wait must not wait for stdin to hit EOF.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		return 1
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}
