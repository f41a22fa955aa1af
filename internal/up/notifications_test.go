package up

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/groundwork-dev/groundwork/internal/gitops"
	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/render"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/testutil/gittest"
	"github.com/groundwork-dev/groundwork/internal/testutil/spectest"
)

const (
	slackURL = "https://hooks.slack.example/services/T0/B0/s3cr3t"
	pagerURL = "https://pager.example/hook?token=s3cr3t"
)

// notifyEnvOn is envOn with a Slack and a webhook target.
func notifyEnvOn(t *testing.T, url, engine string) *spec.Environment {
	t.Helper()
	env := spectest.EnvOn(t, url, engine)
	env.Notifications = &spec.Notifications{Targets: []spec.NotificationTarget{
		{Name: "ops", Type: spec.NotifySlack, URLEnv: "SLACK_WEBHOOK_URL", On: []string{spec.EventFailure, spec.EventRecovery}},
		{Name: "pager", Type: spec.NotifyWebhook, URLEnv: "PAGER_URL", On: []string{spec.EventFailure}},
	}}
	return env
}

// hookWired reports whether Run.Render gives render the notification
// options (see notificationOptions); the tests fail when it does not.
func hookWired(t *testing.T) bool {
	t.Helper()
	_, url := gittest.Bare(t)
	env := notifyEnvOn(t, url, spec.EngineFlux)
	r := newRun(t, env, "SLACK_WEBHOOK_URL="+slackURL, "PAGER_URL="+pagerURL)
	if err := r.ensureIdentity(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := r.Render(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := render.NotificationSecretPath(env, env.Notifications.Targets[0])
	for _, f := range files {
		if f.Path == p {
			return f.Data != nil
		}
	}
	t.Fatalf("no %s rendered", p)
	return false
}

func newRun(t *testing.T, env *spec.Environment, environ ...string) *Run {
	t.Helper()
	r, err := New(Options{Env: env, StateDir: t.TempDir(), Environ: environ, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A missing variable stops up at its check of the repository, before its
// first step, naming the variable only; so does plan's check while the age
// key does not exist yet.
func TestNotificationURLMissing(t *testing.T) {
	_, url := gittest.Bare(t)
	for _, engine := range []string{spec.EngineFlux, spec.EngineArgoCD} {
		if engine == spec.EngineArgoCD && !hookWired(t) {
			t.Fatal("Run.Render does not call r.notificationOptions: Argo CD would find a missing URL at its sync step only")
		}
		env := notifyEnvOn(t, url, engine)
		r := newRun(t, env, "SLACK_WEBHOOK_URL="+slackURL)
		_, err := r.CheckRepository(context.Background())
		var missing *notify.MissingURLError
		if !errors.As(err, &missing) || missing.Variable != "PAGER_URL" {
			t.Fatalf("%s: %v", engine, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("the error shows a URL: %v", err)
		}
	}
}

// TestNotificationSecretStableAcrossUps: the seed commits each target's
// Secret encrypted; the next up, with the same URLs, leaves the repository
// as it is (the file is not encrypted anew); a new URL changes that file
// only. Nothing holds a URL in plaintext.
func TestNotificationSecretStableAcrossUps(t *testing.T) {
	ctx := context.Background()
	bare, url := gittest.Bare(t)
	env := notifyEnvOn(t, url, spec.EngineFlux)
	environ := []string{"SLACK_WEBHOOK_URL=" + slackURL, "PAGER_URL=" + pagerURL}

	seed := func(environ ...string) (*Run, []render.File) {
		r := newRun(t, env, environ...)
		if err := r.ensureIdentity(ctx); err != nil {
			t.Fatal(err)
		}
		files, err := r.Render(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r, files
	}
	if !hookWired(t) {
		t.Fatal("Run.Render does not call r.notificationOptions")
	}
	r, files := seed(environ...)
	secretPath := render.NotificationSecretPath(env, env.Notifications.Targets[0])
	git, err := r.Git()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := git.Apply(ctx, r.seed.Change(files)); err != nil {
		t.Fatal(err)
	}
	head := gittest.Head(t, bare, "main")
	snap, err := git.Read(ctx, env.GitOps.Repository.Path)
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range snap.Files {
		if bytes.Contains(b, []byte("s3cr3t")) {
			t.Errorf("%s holds a URL in plaintext", p)
		}
	}
	committed := snap.Files[secretPath]
	plain, err := sopsenc.DecryptYAML(committed, r.identity.String())
	if err != nil || !strings.Contains(string(plain), "address:") {
		t.Fatalf("%s: %v\n%s", secretPath, err, plain)
	}

	// The next up: same URLs, nothing to commit.
	r, files = seed(environ...)
	res, err := git.Apply(ctx, r.seed.Change(files))
	if err != nil || res.Changed || gittest.Head(t, bare, "main") != head {
		t.Fatalf("second up with the same URLs changed the repository: %+v %v", res, err)
	}

	// A new URL for ops: that file only.
	r, files = seed("SLACK_WEBHOOK_URL="+slackURL+"-new", "PAGER_URL="+pagerURL)
	p, err := git.Preview(ctx, r.seed.Change(files))
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range p.Pending() {
		changed = append(changed, c.Path+" "+string(c.Action))
	}
	if len(changed) != 1 || changed[0] != secretPath+" "+string(gitrepo.ActionChange) {
		t.Fatalf("a new URL changes %v, want only %s", changed, secretPath)
	}
}

// With Argo CD the URLs go to argocd-notifications-secret, with the sync
// objects, under Helm's ownership of the argo-cd release.
func TestArgoCDNotificationSecret(t *testing.T) {
	_, url := gittest.Bare(t)
	env := notifyEnvOn(t, url, spec.EngineArgoCD)
	r := newRun(t, env, "SLACK_WEBHOOK_URL="+slackURL, "PAGER_URL="+pagerURL)
	s, err := notificationSecret(r)
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedMap(s.Object, "data")
	if s.GetName() != notify.ArgoCDSecret || s.GetNamespace() != "argocd" || len(data) != 2 || data["ops-url"] == nil ||
		s.GetAnnotations()["meta.helm.sh/release-name"] != "argo-cd" || s.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
		t.Fatalf("%+v", s.Object)
	}
	fluxVals := engines.For(notifyEnvOn(t, url, spec.EngineFlux)).Release().Values
	keep, _, _ := unstructured.NestedString(fluxVals, "crds", "annotations", "helm.sh/resource-policy")
	if vals := engines.For(env).Release().Values; vals == nil || keep != "keep" || len(fluxVals) != 1 {
		t.Fatalf("ReconcilerValues: Argo CD's notifications values; for Flux only the CRDs' keep policy, got %v", fluxVals)
	}

	// Rebuild (Git read) without a variable: the Secret is left alone
	// (applying it would drop that URL), not an error; up without it is.
	r = newRun(t, env, "SLACK_WEBHOOK_URL="+slackURL)
	r.seed.Snapshot = &gitrepo.Snapshot{Files: map[string][]byte{}}
	if s, err := notificationSecret(r); err != nil || s != nil {
		t.Fatalf("rebuild without a variable: %v %v", s, err)
	}
	r.seed.Snapshot = nil
	if _, err := notificationSecret(r); err == nil {
		t.Fatal("up without the variables must fail")
	}
}

// notificationSecret is argocd-notifications-secret among the sync objects
// the sync step would apply (nil when it is not among them).
func notificationSecret(r *Run) (*unstructured.Unstructured, error) {
	var o render.Options
	if err := r.seed.NotificationOptions(&o); err != nil {
		return nil, err
	}
	files, err := render.Render(r.env(), render.Options{NotificationURLs: o.NotificationURLs})
	if err != nil {
		return nil, err
	}
	objs, err := r.engine().SyncObjects(context.Background(), render.FileMap(files), gitops.AttachOptions{NotificationURLs: o.NotificationURLs})
	if err != nil {
		return nil, err
	}
	for _, u := range objs {
		if u.GetKind() == "Secret" && u.GetName() == notify.ArgoCDSecret {
			return u, nil
		}
	}
	return nil, nil
}
