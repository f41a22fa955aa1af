package render

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/testutil/golden"
)

const (
	opsURL   = "https://hooks.slack.example/services/T0/B0/s3cr3t-ops"
	pagerURL = "https://pager.example/hook?token=s3cr3t-pager"
)

// testIdentity is an age key of these tests only (its recipient shows in
// the golden files' .sops.yaml).
const testIdentity = "AGE-SECRET-KEY-1TED07XJF2H0UP08MS7642YW547S8P55KZ3WP0LHRVP62CA6ZWPDQ6PFXTV"

func notifyOptions(t *testing.T) (Options, *age.X25519Identity) {
	t.Helper()
	id, err := age.ParseX25519Identity(testIdentity)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		AgeRecipient:     id.Recipient().String(),
		NotificationURLs: map[string]string{"ops": opsURL, "pager": pagerURL},
		Decrypt:          func(b []byte) ([]byte, error) { return sopsenc.DecryptYAML(b, id.String()) },
	}, id
}

// byPath finds a rendered file.
func byPath(t *testing.T, files []File, p string) File {
	t.Helper()
	for _, f := range files {
		if f.Path == p {
			return f
		}
	}
	t.Fatalf("no %s rendered", p)
	return File{}
}

// TestNotificationsFlux renders a Flux environment with a Slack and a
// webhook target: the Kustomization groundwork-notifications (listed in
// groundwork's kustomization.yaml, decrypting) over groundwork/notifications/,
// which holds a Provider and an Alert per target and per target a Secret,
// encrypted, holding the URL under "address". No URL is anywhere in
// plaintext.
func TestNotificationsFlux(t *testing.T) {
	env := load(t, "../spec/testdata/valid-notifications.hcl")
	opts, id := notifyOptions(t)
	files, err := Render(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	root := env.GitOps.Repository.Path
	var all bytes.Buffer
	for _, f := range files {
		for _, u := range []string{opsURL, pagerURL, "s3cr3t"} {
			if bytes.Contains(f.Data, []byte(u)) {
				t.Errorf("%s holds a webhook URL in plaintext", f.Path)
			}
		}
		data := f.Data
		if strings.HasPrefix(path.Base(f.Path), "secret-") {
			data = []byte(describeEncrypted(t, f, id))
		}
		fmt.Fprintf(&all, "==> %s (seed only: %t)\n%s", f.Path, f.SeedOnly, data)
	}
	golden.Assert(t, "testdata/notifications-flux.golden", all.Bytes())

	if k := byPath(t, files, root+"/groundwork/kustomization.yaml"); !bytes.Contains(k.Data, []byte("\n  - notifications.yaml\n")) {
		t.Errorf("groundwork's kustomization.yaml does not list notifications.yaml:\n%s", k.Data)
	}
	if k := byPath(t, files, root+"/"+NotificationsDir+"/kustomization.yaml"); !bytes.HasSuffix(k.Data, []byte("  - alerts.yaml\n  - secret-ops.yaml\n  - secret-pager.yaml\n")) {
		t.Errorf("the notifications' kustomization.yaml does not list their files:\n%s", k.Data)
	}
	if k := byPath(t, files, root+"/"+NotificationsDir+".yaml"); !bytes.Contains(k.Data, []byte("name: groundwork-notifications\n")) || !bytes.Contains(k.Data, []byte("decryption:")) {
		t.Errorf("the Kustomization groundwork-notifications must apply the folder, decrypting:\n%s", k.Data)
	}
	n := byPath(t, files, root+"/"+NotificationsDir+"/alerts.yaml")
	severity := map[string]string{}
	for _, doc := range strings.Split(string(n.Data), "\n---\n") {
		var o struct {
			APIVersion, Kind string
			Metadata         struct{ Name, Namespace string }
			Spec             struct {
				Type          string
				SecretRef     struct{ Name string } `json:"secretRef"`
				EventSeverity string                `json:"eventSeverity"`
				ProviderRef   struct{ Name string } `json:"providerRef"`
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if o.APIVersion != notify.FluxAPIVersion || o.Metadata.Namespace != "flux-system" {
			t.Errorf("%s %s: apiVersion %s namespace %s", o.Kind, o.Metadata.Name, o.APIVersion, o.Metadata.Namespace)
		}
		if o.Kind == "Alert" {
			severity[o.Metadata.Name] = o.Spec.EventSeverity
		}
	}
	// info for failures and recoveries, error for failures only.
	if want := map[string]string{"groundwork-ops": "info", "groundwork-pager": "error"}; !reflect.DeepEqual(severity, want) {
		t.Errorf("eventSeverity %v, want %v", severity, want)
	}
}

// describeEncrypted checks an encrypted notification Secret and says what
// it holds in words (the ciphertext changes on every run).
func describeEncrypted(t *testing.T, f File, id *age.X25519Identity) string {
	t.Helper()
	if !bytes.HasPrefix(f.Data, []byte(managedMarker)) || !sopsenc.IsEncrypted(f.Data) {
		t.Fatalf("%s is not a managed SOPS file:\n%s", f.Path, f.Data)
	}
	head, _, _ := strings.Cut(string(f.Data), "\n"+"apiVersion")
	plain, err := sopsenc.DecryptYAML(f.Data, id.String())
	if err != nil {
		t.Fatalf("%s: %v", f.Path, err)
	}
	var s struct {
		Metadata struct{ Name, Namespace string }
		Data     map[string][]byte
	}
	if err := yaml.Unmarshal(plain, &s); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(s.Data))
	for k, v := range s.Data {
		keys = append(keys, fmt.Sprintf("%s=<%d bytes>", k, len(v)))
	}
	return fmt.Sprintf("%s\n(SOPS-encrypted Secret %s/%s for %s; data: %s)\n", head, s.Metadata.Namespace, s.Metadata.Name,
		"the age recipient", strings.Join(keys, ", "))
}

// TestNotificationSecretStaysStable: up renders the encrypted Secret anew
// on every run; the file in the repository is kept byte for byte while it
// holds the same URL for the same recipient, and replaced when the URL
// changes.
func TestNotificationSecretStaysStable(t *testing.T) {
	env := load(t, "../spec/testdata/valid-notifications.hcl")
	opts, id := notifyOptions(t)
	first, err := Render(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := NotificationSecretPath(env, env.Notifications.Targets[0])
	committed := byPath(t, first, p).Data

	again, _ := Render(env, opts)
	f := byPath(t, again, p)
	if bytes.Equal(f.Data, committed) {
		t.Fatal("two encryptions gave the same ciphertext: the test proves nothing")
	}
	if got, err := f.Build(committed, true, nil); err != nil || !bytes.Equal(got, committed) {
		t.Fatalf("same URL: the committed file must be kept (err %v)", err)
	}
	if got, err := f.Build(nil, false, nil); err != nil || !bytes.Equal(got, f.Data) {
		t.Fatalf("no file yet: the new one must be written (err %v)", err)
	}

	// Header dropped by a tool that re-encrypted it: ours still, the
	// ciphertext kept and the header back.
	_, body, _ := strings.Cut(string(committed), "\napiVersion")
	bare := []byte("apiVersion" + body)
	if got, err := f.Build(bare, false, nil); err != nil || !bytes.HasPrefix(got, []byte(managedMarker)) || !bytes.HasSuffix(got, bare) {
		t.Fatalf("header dropped: got %q, %v", got, err)
	}

	changed := opts
	changed.NotificationURLs = map[string]string{"ops": opsURL + "-rotated", "pager": pagerURL}
	files, _ := Render(env, changed)
	f = byPath(t, files, p)
	got, err := f.Build(committed, true, nil)
	if err != nil || bytes.Equal(got, committed) {
		t.Fatalf("a new URL must be written (err %v)", err)
	}
	plain, err := sopsenc.DecryptYAML(got, id.String())
	if err != nil || !bytes.Contains(plain, []byte(`address: aHR0cHM6Ly9ob29rcy5zbGFjay5leGFtcGxlL3NlcnZpY2VzL1QwL0IwL3MzY3IzdC1vcHMtcm90YXRlZA==`)) {
		t.Fatalf("the new file does not hold the new URL: %v\n%s", err, plain)
	}

	// Another recipient (a new key): encrypted anew.
	other, _ := age.GenerateX25519Identity()
	rekeyed := opts
	rekeyed.AgeRecipient = other.Recipient().String()
	files, _ = Render(env, rekeyed)
	if got, _ := byPath(t, files, p).Build(committed, true, nil); bytes.Equal(got, committed) {
		t.Fatal("a file for another recipient must be encrypted anew")
	}

	// Without Decrypt nothing can be compared: written anew.
	blind := opts
	blind.Decrypt = nil
	files, _ = Render(env, blind)
	if got, _ := byPath(t, files, p).Build(committed, true, nil); bytes.Equal(got, committed) {
		t.Fatal("without Decrypt the file must be written anew")
	}

	// A file of the user's at that path is not written over.
	files, _ = Render(env, opts)
	if _, err := byPath(t, files, p).Build([]byte("apiVersion: v1\nkind: ConfigMap\n"), false, nil); err == nil || !strings.Contains(err.Error(), "yours") {
		t.Fatalf("a user's file: %v", err)
	}
}

// TestNotificationSecretWithoutURL: a target whose URL was not given keeps
// the repository's Secret (rebuild), and cannot be written where there is
// none; while the age key is pending (plan), the file is a placeholder.
func TestNotificationSecretWithoutURL(t *testing.T) {
	env := load(t, "../spec/testdata/valid-notifications.hcl")
	opts, _ := notifyOptions(t)
	files, _ := Render(env, opts)
	p := NotificationSecretPath(env, env.Notifications.Targets[0])
	committed := byPath(t, files, p).Data

	opts.NotificationURLs = map[string]string{"pager": pagerURL}
	files, err := Render(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := byPath(t, files, p)
	if got, err := f.Build(committed, true, nil); err != nil || !bytes.Equal(got, committed) {
		t.Fatalf("the repository's Secret must be kept: %v", err)
	}
	var missing *notify.MissingURLError
	if _, err := f.Build(nil, false, nil); !errors.As(err, &missing) || missing.Variable != "SLACK_WEBHOOK_URL" {
		t.Fatalf("no Secret and no URL: %v", err)
	}

	pending := Options{AgeRecipient: "<the age recipient up creates>", KeyPending: true}
	files, err = Render(env, pending)
	if err != nil {
		t.Fatal(err)
	}
	if f := byPath(t, files, p); f.Build != nil || !bytes.HasPrefix(f.Data, []byte(managedMarker)) || sopsenc.IsEncrypted(f.Data) {
		t.Fatalf("placeholder: %+v", f)
	}
}

// TestNotificationsArgoCD: with Argo CD the notifications are values of the
// argo-cd chart in the Application by which Argo CD manages itself, the
// same values notify gives the Helm release, and no Secret goes to Git.
func TestNotificationsArgoCD(t *testing.T) {
	env := load(t, "../spec/testdata/valid-notifications-argocd.hcl")
	files, err := Render(env, Options{NotificationURLs: map[string]string{"audit": pagerURL}})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, f := range files {
		if bytes.Contains(f.Data, []byte("s3cr3t")) || strings.Contains(f.Path, "/secrets/") && path.Base(f.Path) != "README.md" {
			t.Errorf("%s: a URL or a Secret in Git", f.Path)
		}
		fmt.Fprintf(&all, "==> %s (seed only: %t)\n%s", f.Path, f.SeedOnly, f.Data)
	}
	golden.Assert(t, "testdata/notifications-argocd.golden", all.Bytes())
	self := byPath(t, files, env.GitOps.Repository.Path+"/applications/argocd.yaml")
	var app struct {
		Spec struct {
			Source struct {
				Helm struct {
					ValuesObject map[string]any `json:"valuesObject"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(self.Data, &app); err != nil {
		t.Fatal(err)
	}
	want, _ := yaml.Marshal(ArgoCDValues(env))
	got, _ := yaml.Marshal(app.Spec.Source.Helm.ValuesObject)
	if !bytes.Equal(got, want) {
		t.Fatalf("valuesObject differs from the Helm values:\n%s\nwant:\n%s", got, want)
	}
}

// The examples without notifications render no notifications file.
func TestNoNotificationsWithoutBlock(t *testing.T) {
	for _, name := range []string{"local", "gke"} {
		env := load(t, "../../environments/"+name+".hcl")
		if env.Notifications != nil {
			continue
		}
		files, err := Render(env, Options{AgeRecipient: recipient})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.Contains(f.Path, "notification") || bytes.Contains(f.Data, []byte("notifications.yaml")) || bytes.Contains(f.Data, []byte("valuesObject")) {
				t.Errorf("%s: notifications without a notifications block", f.Path)
			}
		}
	}
}
