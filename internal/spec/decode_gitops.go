package spec

import (
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/hcl/v2"
)

// --- gitops ---

var (
	gitopsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "engine"}, {Name: "version"}, {Name: "namespace"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "chart"}, {Type: "repository"}, {Type: "commit"}, {Type: "sync"},
		},
	}
	chartSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "repository"}, {Name: "name"}}}
	repoSchema  = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "branch"}, {Name: "path"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "auth"}},
	}
	authSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "ssh_key_file"}, {Name: "known_hosts_file"}, {Name: "token_env"}, {Name: "username"},
	}}
	commitSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "author_name"}, {Name: "author_email"}, {Name: "message"}}}
	syncSchema   = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "interval"}, {Name: "prune"}, {Name: "timeout"}, {Name: "manual"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "window", LabelNames: []string{"kind"}}},
	}
	windowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "schedule", Required: true}, {Name: "duration", Required: true}, {Name: "time_zone"}, {Name: "manual_sync"},
	}}
)

func (d *decoder) decodeGitOps(block *hcl.Block, envName string, paths envPaths) GitOps {
	g := GitOps{
		Engine:     EngineFlux,
		Repository: Repository{Branch: DefaultBranch, Path: "clusters/" + envName},
		Commit:     CommitSettings{AuthorName: DefaultCommitAuthor, AuthorEmail: DefaultCommitEmail},
		Sync:       Sync{Interval: DefaultSyncInterval, Prune: true, Timeout: DefaultSyncTimeout},
	}
	c := d.content(block.Body, gitopsSchema)
	if c == nil {
		return g
	}
	d.oneOf(c.Attributes, "engine", []string{EngineFlux, EngineArgoCD}, &g.Engine)
	if g.Engine == EngineArgoCD {
		g.Version, g.Chart, g.Namespace = DefaultArgoCDChartVersion, Chart{Repository: DefaultArgoCDChartRepo, Name: DefaultArgoCDChartName}, "argocd"
	} else {
		g.Version, g.Chart, g.Namespace = DefaultFluxChartVersion, Chart{Repository: DefaultFluxChartRepo, Name: DefaultFluxChartName}, "flux-system"
	}
	d.pinnedVersion(c.Attributes, "version", &g.Version)
	if d.str(c.Attributes, "namespace", &g.Namespace) && !dnsLabel.MatchString(g.Namespace) {
		d.errorf(c.Attributes["namespace"].Expr.Range().Ptr(), "Invalid namespace", "%q is not a valid Kubernetes namespace name.", g.Namespace)
	}
	if cb := d.uniqueBlock(c.Blocks, "chart"); cb != nil {
		if cc := d.content(cb.Body, chartSchema); cc != nil {
			d.chartRepo(cc.Attributes, "repository", &g.Chart.Repository)
			d.nonEmpty(cc.Attributes, "name", &g.Chart.Name)
		}
	}
	if rb := d.uniqueBlock(c.Blocks, "repository"); rb != nil {
		d.decodeRepository(rb, &g.Repository, paths)
	} else {
		d.errorf(block.Body.MissingItemRange().Ptr(), "Missing repository block",
			"The gitops block needs the repository the cluster follows: repository { url = \"https://github.com/acme/fleet.git\" }.")
	}
	if cb := d.uniqueBlock(c.Blocks, "commit"); cb != nil {
		if cc := d.content(cb.Body, commitSchema); cc != nil {
			d.nonEmpty(cc.Attributes, "author_name", &g.Commit.AuthorName)
			if d.nonEmpty(cc.Attributes, "author_email", &g.Commit.AuthorEmail) && !strings.Contains(g.Commit.AuthorEmail, "@") {
				d.errorf(cc.Attributes["author_email"].Expr.Range().Ptr(), "Invalid email", "%q is not an email address.", g.Commit.AuthorEmail)
			}
			d.nonEmpty(cc.Attributes, "message", &g.Commit.Message)
		}
	}
	if g.Commit.Message == "" {
		g.Commit.Message = "groundwork: update environment " + envName
	}
	if sb := d.uniqueBlock(c.Blocks, "sync"); sb != nil {
		if sc := d.content(sb.Body, syncSchema); sc != nil {
			d.duration(sc.Attributes, "interval", &g.Sync.Interval)
			d.boolean(sc.Attributes, "prune", &g.Sync.Prune)
			d.duration(sc.Attributes, "timeout", &g.Sync.Timeout)
			d.decodeSyncPolicy(sc, &g)
		}
	}
	return g
}

var scpLike = regexp.MustCompile(`^([a-zA-Z0-9._-]+@)?[a-zA-Z0-9.-]+:[^/]`)

func (d *decoder) decodeRepository(block *hcl.Block, r *Repository, paths envPaths) {
	c := d.content(block.Body, repoSchema)
	if c == nil {
		return
	}
	var transport string
	if d.str(c.Attributes, "url", &r.URL) {
		var ok bool
		if transport, ok = gitTransport(r.URL); !ok {
			d.errorf(c.Attributes["url"].Expr.Range().Ptr(), "Invalid repository URL",
				"%q is not a Git URL groundwork can use. Write https://host/org/repo.git, ssh://git@host/org/repo.git (or git@host:org/repo.git), or file:///path/to/repo.git.", r.URL)
		}
	}
	if d.str(c.Attributes, "branch", &r.Branch) && !validBranch(r.Branch) {
		d.errorf(c.Attributes["branch"].Expr.Range().Ptr(), "Invalid branch name", "%q is not a valid Git branch name (no spaces, \"..\", \"~^:?*[\\\", leading \"-\" or trailing \"/\").", r.Branch)
	}
	if d.str(c.Attributes, "path", &r.Path) {
		clean := path.Clean(strings.TrimPrefix(r.Path, "./"))
		if r.Path == "" || strings.HasPrefix(r.Path, "/") || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
			d.errorf(c.Attributes["path"].Expr.Range().Ptr(), "Invalid repository path",
				"%q must be a folder inside the repository, relative to its root, like \"clusters/dev\".", r.Path)
		} else {
			r.Path = clean
		}
	}
	ab := d.uniqueBlock(c.Blocks, "auth")
	if ab == nil {
		if transport == "ssh" {
			d.errorf(c.Attributes["url"].Expr.Range().Ptr(), "Missing SSH key",
				"%q is an SSH URL, so groundwork and the reconciler need a key: add auth { ssh_key_file = \"~/.ssh/id_ed25519\" }.", r.URL)
		}
		return
	}
	ac := d.content(ab.Body, authSchema)
	if ac == nil {
		return
	}
	hasKey := d.nonEmpty(ac.Attributes, "ssh_key_file", &r.Auth.SSHKeyFile)
	hasToken := d.nonEmpty(ac.Attributes, "token_env", &r.Auth.TokenEnv)
	d.nonEmpty(ac.Attributes, "known_hosts_file", &r.Auth.KnownHostsFile)
	d.nonEmpty(ac.Attributes, "username", &r.Auth.Username)
	switch {
	case hasKey && hasToken:
		d.errorf(ab.DefRange.Ptr(), "Conflicting repository auth", "Give either ssh_key_file (for an SSH URL) or token_env (for an HTTPS URL), not both.")
	case hasKey && transport != "" && transport != "ssh":
		d.errorf(ac.Attributes["ssh_key_file"].NameRange.Ptr(), "SSH key for a non-SSH URL",
			"ssh_key_file needs an SSH URL, but %q is %s; use token_env for HTTPS, or an ssh:// URL.", r.URL, transport)
	case hasToken && transport == "ssh":
		d.errorf(ac.Attributes["token_env"].NameRange.Ptr(), "Token for an SSH URL",
			"token_env authenticates over HTTPS, but %q is an SSH URL; use ssh_key_file, or an https:// URL.", r.URL)
	case transport == "ssh" && !hasKey:
		d.errorf(ab.DefRange.Ptr(), "Missing SSH key", "%q is an SSH URL: add ssh_key_file = \"~/.ssh/id_ed25519\" to auth.", r.URL)
	}
	if hasToken && r.Auth.Username == "" {
		r.Auth.Username = "git" // any user name works with GitHub's and most forges' tokens
	}
	if hasToken && !envVarName.MatchString(r.Auth.TokenEnv) {
		d.errorf(ac.Attributes["token_env"].Expr.Range().Ptr(), "Invalid environment variable name",
			"token_env names the environment variable that holds the token, like \"GITHUB_TOKEN\"; %q is not such a name. Never put the token itself in the file.", r.Auth.TokenEnv)
	}
	if r.Auth.SSHKeyFile != "" {
		r.Auth.SSHKeyFile = expandPath(r.Auth.SSHKeyFile, paths.base, paths.home)
	}
	if r.Auth.KnownHostsFile != "" {
		r.Auth.KnownHostsFile = expandPath(r.Auth.KnownHostsFile, paths.base, paths.home)
	}
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// gitTransport classifies a Git URL as https, http, ssh or file.
func gitTransport(raw string) (string, bool) {
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		return "ssh", true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "https", "http", "ssh":
		return u.Scheme, u.Host != "" && strings.Trim(u.Path, "/") != ""
	case "file":
		return "file", u.Path != "" && u.Path != "/"
	}
	return "", false
}

func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	return !strings.ContainsAny(b, " ~^:?*[\\\t\n")
}

func (d *decoder) chartRepo(a attrs, name string, dst *string) bool {
	var s string
	if !d.nonEmpty(a, name, &s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") {
		d.errorf(a[name].Expr.Range().Ptr(), "Invalid chart repository",
			"%q is not a chart source: give a Helm repository URL (https://charts.example.com) or an OCI registry path (oci://registry.example.com/charts).", s)
		return false
	}
	*dst = strings.TrimSuffix(s, "/")
	return true
}

// pinnedVersion reads an exact chart version; ranges are refused so that an
// environment means the same thing tomorrow.
func (d *decoder) pinnedVersion(a attrs, name string, dst *string) bool {
	var s string
	if !d.str(a, name, &s) {
		return false
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v")); err != nil {
		d.errorf(a[name].Expr.Range().Ptr(), "Version not pinned",
			"%q is not an exact chart version. groundwork pins versions so that a rebuild installs the same thing: write a full version like \"1.2.3\", not a range or a partial version.", s)
		return false
	}
	*dst = s
	return true
}
