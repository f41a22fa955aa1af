package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/gitops/flux"
	"github.com/groundwork-dev/groundwork/internal/kube"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/status"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

// notifyEnv is upEnv with a notifications block: a Slack target sent
// failures and recoveries, and a webhook sent failures only. Their URLs come
// from SLACK_WEBHOOK_URL and PAGER_URL; a short interval lets Flux retry a
// failing Kustomization within the test.
var notifyEnv = strings.Replace(upEnvWith(`
  notifications {
    slack "ops" {
      url_env = "SLACK_WEBHOOK_URL"
      channel = "#harness"
    }
    webhook "pager" {
      url_env = "PAGER_URL"
      on      = ["failure"]
    }
  }
`), `interval = "10m"`, `interval = "1m"`, 1)

// webhookToken is the credential in both URLs: it must show nowhere but in
// the requests the receiver gets.
const webhookToken = "n0tify-s3cr3t-t0ken"

// receiver stands in for Slack and for the generic webhook: it records
// every JSON body posted to it, and refuses Slack's while failSlack is set.
type receiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	slack     []slackPayload
	generic   []genericEvent
	failSlack atomic.Bool
}

// slackPayload is what notification-controller's Slack notifier posts.
type slackPayload struct {
	Channel     string `json:"channel"`
	Username    string `json:"username"`
	Text        string `json:"text"`
	Attachments []struct {
		Color      string `json:"color"`
		AuthorName string `json:"author_name"`
		Text       string `json:"text"`
		Fields     []struct {
			Title string `json:"title"`
			Value string `json:"value"`
		} `json:"fields"`
	} `json:"attachments"`
}

// genericEvent is what its generic notifier posts: Flux's event.
type genericEvent struct {
	InvolvedObject corev1.ObjectReference `json:"involvedObject"`
	Severity       string                 `json:"severity"`
	Message        string                 `json:"message"`
	Reason         string                 `json:"reason"`
	Metadata       map[string]string      `json:"metadata"`
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		switch {
		case strings.HasPrefix(req.URL.Path, "/services/") && strings.HasSuffix(req.URL.Path, "/"+webhookToken):
			if r.failSlack.Load() {
				http.Error(w, "invalid_token", http.StatusInternalServerError)
				return
			}
			var p slackPayload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Errorf("Slack got no JSON: %v\n%s", err, body)
			}
			r.mu.Lock()
			r.slack = append(r.slack, p)
			r.mu.Unlock()
		case req.URL.Path == "/pager" && req.URL.Query().Get("token") == webhookToken:
			var e genericEvent
			if err := json.Unmarshal(body, &e); err != nil {
				t.Errorf("the webhook got no JSON: %v\n%s", err, body)
			}
			r.mu.Lock()
			r.generic = append(r.generic, e)
			r.mu.Unlock()
		default:
			http.NotFound(w, req)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) slackURL() string {
	return r.srv.URL + "/services/T000/B000/" + webhookToken
}

func (r *receiver) pagerURL() string { return r.srv.URL + "/pager?token=" + webhookToken }

// slackMessage waits for a Slack message whose attachment has the color
// and a text containing want.
func (r *receiver) slackMessage(ctx context.Context, t *testing.T, color, want string) slackPayload {
	t.Helper()
	var found slackPayload
	waitFor(ctx, t, fmt.Sprintf("a %s Slack message about %q", color, want), func(context.Context) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.slack {
			for _, a := range p.Attachments {
				if a.Color == color && strings.Contains(a.Text, want) {
					found = p
					return nil
				}
			}
		}
		return fmt.Errorf("%d Slack messages, none %s about %q", len(r.slack), color, want)
	})
	return found
}

// genericEvent waits for an event posted to the webhook.
func (r *receiver) genericEvent(ctx context.Context, t *testing.T, severity, want string) genericEvent {
	t.Helper()
	var found genericEvent
	waitFor(ctx, t, fmt.Sprintf("a %s event about %q on the webhook", severity, want), func(context.Context) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.generic {
			if e.Severity == severity && strings.Contains(e.Message, want) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("%d webhook events, none %s about %q", len(r.generic), severity, want)
	})
	return found
}

// statusNotifications runs status --output json and returns its
// notifications, and everything it printed.
func statusNotifications(ctx context.Context, t *testing.T, g *groundwork) (*status.Notifications, string) {
	t.Helper()
	_, out, errOut := g.run(ctx, "status", g.file, "--output", "json")
	var doc struct {
		Notifications *status.Notifications `json:"notifications"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Notifications == nil {
		t.Fatalf("status printed no notifications (%v):\n%s\n%s", err, out, errOut)
	}
	return doc.Notifications, out + errOut
}

func delivery(n *status.Notifications, target string) status.Delivery {
	for _, d := range n.Targets {
		if d.Target == target {
			return d
		}
	}
	return status.Delivery{}
}

// TestNotifications proves the notifications block on Flux: up renders a
// Provider and an Alert per target and keeps each URL SOPS-encrypted in
// Git (a second up commits nothing); a Kustomization that fails reaches the
// Slack receiver as Slack's payload and the webhook as Flux's event; its
// recovery reaches Slack only; status reads what notification-controller
// recorded, a delivery Slack refused included; no URL shows anywhere.
func TestNotifications(t *testing.T) {
	skipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	rcv := startReceiver(t)
	cp := startFluxCluster(t)
	w := startFluxWorld(t)
	if err := os.WriteFile(w.file, []byte(notifyEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	g := w.groundwork(t, cp.AdminKubeconfig())
	g.environ = append(g.environ, "SLACK_WEBHOOK_URL="+rcv.slackURL(), "PAGER_URL="+rcv.pagerURL())
	var outputs strings.Builder // everything groundwork printed, for the leak scan
	kc, err := kube.Connect(cp.AdminKubeconfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	reconcile := func(t *testing.T) {
		t.Helper()
		if err := flux.RequestReconcile(ctx, kc, harness.FluxNamespace, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	const root = "clusters/harness"
	ns := harness.FluxNamespace

	t.Run("up without a URL stops before any change", func(t *testing.T) {
		bad := *g
		bad.t = t
		bad.environ = append(append([]string{}, g.environ...), "PAGER_URL=")
		code, doc, errOut := bad.up(ctx)
		outputs.WriteString(errOut)
		if code != 1 || !strings.Contains(errOut, "PAGER_URL (url_env) is not set") || !strings.Contains(errOut, "nothing was changed") {
			t.Fatalf("exit %d, want 1 naming PAGER_URL before any change:\n%s", code, errOut)
		}
		if doc.Error == nil || doc.Error.Step != "" {
			t.Errorf("failed step: %+v, want none (before the first)", doc.Error)
		}
		if err := exec.Command("git", "--git-dir", w.gitSrv.RepoDir("fleet"), "rev-parse", "--verify", "-q", "refs/heads/main").Run(); err == nil {
			t.Error("up committed before stopping")
		}
	})

	code, doc, errOut := g.up(ctx)
	outputs.WriteString(errOut)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	t.Logf("up: %d ms, %s", doc.TookMS, doc.Revision)

	t.Run("the repository holds the URLs encrypted only", func(t *testing.T) {
		wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
		dir := root + "/groundwork/notifications/"
		for _, p := range []string{root + "/groundwork/notifications.yaml", dir + "kustomization.yaml", dir + "alerts.yaml", dir + "secret-ops.yaml", dir + "secret-pager.yaml"} {
			b, err := os.ReadFile(filepath.Join(wd.Dir, p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if strings.Contains(p, "/secret-") && !strings.Contains(string(b), "ENC[AES256_GCM") {
				t.Errorf("%s is not SOPS-encrypted:\n%s", p, b)
			}
		}
		scanTree(t, wd.Dir, webhookToken)
	})

	t.Run("a second up commits nothing", func(t *testing.T) {
		head := headOf(t, w.gitSrv)
		code, _, errOut := g.up(ctx)
		outputs.WriteString(errOut)
		if code != 0 {
			t.Fatalf("up: exit %d\n%s", code, errOut)
		}
		if after := headOf(t, w.gitSrv); after != head {
			t.Fatalf("the second up committed %s (the encrypted Secrets must stay as they are)", after)
		}
	})

	t.Run("the reconciler has the targets", func(t *testing.T) {
		for _, name := range []string{"ops", "pager"} {
			s, err := cp.Client().CoreV1().Secrets(ns).Get(ctx, "groundwork-notification-"+name, metav1.GetOptions{})
			want := rcv.slackURL()
			if name == "pager" {
				want = rcv.pagerURL()
			}
			if err != nil || string(s.Data[notify.AddressKey]) != want {
				t.Fatalf("Secret of %s: %v", name, err)
			}
		}
		n, out := statusNotifications(ctx, t, g)
		outputs.WriteString(out)
		for _, d := range n.Targets {
			if d.State == status.DeliveryNotApplied || d.State == status.DeliveryFailed {
				t.Errorf("after up, %s: %+v", d.Target, d)
			}
		}
	})

	wd := harness.CloneGitWorkdir(t, w.repoURL, w.gitSrv.BasicAuth())
	writeApp := func(namespace string) {
		wd.WriteFile(t, root+"/apps/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - broken.yaml\n")
		wd.WriteFile(t, root+"/apps/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  namespace: "+namespace+"\ndata:\n  a: b\n")
	}

	t.Run("a failed reconcile reaches Slack and the webhook", func(t *testing.T) {
		writeApp("no-such-namespace")
		wd.CommitAndPush(t, "a ConfigMap in a namespace that does not exist")
		reconcile(t)
		p := rcv.slackMessage(ctx, t, "danger", "broken")
		a := p.Attachments[0]
		if a.AuthorName != "kustomization/groundwork-apps."+ns || p.Channel != "#harness" {
			t.Errorf("Slack message: %+v", p)
		}
		env := ""
		for _, f := range a.Fields {
			if f.Title == "environment" {
				env = f.Value
			}
		}
		if env != "harness" {
			t.Errorf("the message does not name the environment: %+v", a.Fields)
		}
		e := rcv.genericEvent(ctx, t, "error", "broken")
		if e.InvolvedObject.Kind != "Kustomization" || e.InvolvedObject.Name != "groundwork-apps" || e.Metadata["environment"] != "harness" {
			t.Errorf("webhook event: %+v", e)
		}
	})

	t.Run("status after the delivered failure", func(t *testing.T) {
		n, out := statusNotifications(ctx, t, g)
		outputs.WriteString(out)
		if d := delivery(n, "pager"); d.State != status.DeliveryNoFailure || !strings.Contains(d.About, "Kustomization/groundwork-apps") {
			t.Errorf("pager: %+v", d)
		}
		if d := delivery(n, "ops"); d.State != status.DeliveryNoFailure {
			t.Errorf("ops: %+v", d)
		}
	})

	t.Run("the recovery reaches Slack, not the webhook", func(t *testing.T) {
		writeApp("default")
		wd.CommitAndPush(t, "the ConfigMap in default")
		reconcile(t)
		rcv.slackMessage(ctx, t, "good", "ConfigMap/default/broken")
		rcv.mu.Lock()
		for _, e := range rcv.generic {
			if e.Severity != "error" {
				t.Errorf("the webhook (failures only) got %+v", e)
			}
		}
		rcv.mu.Unlock()
	})

	t.Run("status says when Slack refused the last delivery", func(t *testing.T) {
		rcv.failSlack.Store(true)
		writeApp("no-such-namespace-either")
		wd.CommitAndPush(t, "another ConfigMap in a namespace that does not exist")
		reconcile(t)
		var last status.Delivery
		waitFor(ctx, t, "status to say the delivery to ops failed", func(ctx context.Context) error {
			n, out := statusNotifications(ctx, t, g)
			outputs.WriteString(out)
			if last = delivery(n, "ops"); last.State != status.DeliveryFailed {
				return fmt.Errorf("ops: %+v", last)
			}
			return nil
		})
		// notification-controller's message quotes the URL when the
		// request failed on its own (not when the provider's timeout cut
		// the retries short): status cuts it to the host.
		host := strings.TrimPrefix(rcv.srv.URL, "http://")
		if !strings.Contains(last.Detail, "failed to send notification for Kustomization/"+ns+"/groundwork-apps") ||
			strings.Contains(last.Detail, webhookToken) || strings.Contains(last.Detail, "/services/") ||
			strings.Contains(last.Detail, "://") && !strings.Contains(last.Detail, "http://"+host+"/<redacted>") {
			t.Errorf("the failure must be said, and no URL but its host: %q", last.Detail)
		}
		code, out, errOut := g.run(ctx, "status", g.file)
		outputs.WriteString(out + errOut)
		if !strings.Contains(out, "notify      ops (slack): last delivery failed at") {
			t.Errorf("status (exit %d) does not say the delivery failed:\n%s", code, out)
		}
	})

	if strings.Contains(outputs.String(), webhookToken) {
		t.Errorf("a webhook URL leaked into groundwork's output:\n%s", outputs.String())
	}
}

// scanTree fails t for every file of the working copy dir (.git aside)
// that holds s.
func scanTree(t *testing.T, dir, s string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			t.Errorf("%s holds a webhook URL in plaintext", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
