package render

import (
	"fmt"
	"path"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/sopsenc"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// NotificationsDir holds, relative to the environment's folder, what Flux
// gets for the notification targets: alerts.yaml (their Providers and
// Alerts), the Secrets with their URLs (encrypted with SOPS) and a
// kustomization.yaml listing them. The Kustomization groundwork-notifications
// (groundwork/notifications.yaml) applies the folder, decrypting, so that
// an Alert and the Secret its Provider reads arrive together.
const NotificationsDir = OwnFolder + "/notifications"

// isNotifications reports whether a template's output is for the
// notification targets (rendered only with a notifications block).
func isNotifications(out string) bool {
	return out == NotificationsDir+".yaml" || strings.HasPrefix(out, NotificationsDir+"/")
}

func notificationSecretFile(t spec.NotificationTarget) string { return "secret-" + t.Name + ".yaml" }

// NotificationSecretPath is where the Secret holding a target's URL is kept
// with Flux, encrypted with SOPS.
func NotificationSecretPath(env *spec.Environment, t spec.NotificationTarget) string {
	return path.Join(env.GitOps.Repository.Path, NotificationsDir, notificationSecretFile(t))
}

// notificationSecrets are the targets' Secrets, each encrypted for the
// environment's age recipient behind a managed header (so that groundwork
// removes the file with its target). A file that already holds the same
// Secret for the recipient is kept as it is.
func notificationSecrets(env *spec.Environment, opts Options) ([]File, error) {
	var files []File
	for _, t := range env.Notifications.Targets {
		p := NotificationSecretPath(env, t)
		head := []byte(fmt.Sprintf("%s: the webhook URL of the notification target %s, encrypted\n# with SOPS for the environment's age key. up writes it from $%s; do not edit it.\n",
			managedMarker, t.Name, t.URLEnv))
		if opts.KeyPending {
			files = append(files, File{Path: p, Data: append(head, "# (encrypted by up for the age key it creates)\n"...)})
			continue
		}
		url, ok := opts.NotificationURLs[t.Name]
		if !ok {
			files = append(files, File{Path: p, Build: keepNotificationSecret(env, t, opts)})
			continue
		}
		plain := notify.FluxSecret(env.GitOps.Namespace, t, url)
		enc, err := sopsenc.EncryptYAML(plain, opts.AgeRecipient)
		if err != nil {
			return nil, fmt.Errorf("encrypt the Secret of notification target %q: %w", t.Name, err)
		}
		data := append(head, enc...)
		files = append(files, File{Path: p, Data: data, Build: func(existing []byte, managed bool, _ map[string][]byte) ([]byte, error) {
			if existing == nil {
				return data, nil
			}
			same, ours := compareSecret(existing, plain, env, t, opts)
			switch {
			case !ours && !managed:
				return nil, foreignSecret(t)
			case same && managed:
				return existing, nil
			case same:
				// Ours without its header (re-encrypted by a tool that
				// drops comments): the same ciphertext, header back.
				return append(append([]byte{}, head...), existing...), nil
			}
			return data, nil
		}})
	}
	return files, nil
}

// keepNotificationSecret keeps the Secret the repository has for a target
// whose URL up was not given.
func keepNotificationSecret(env *spec.Environment, t spec.NotificationTarget, opts Options) func([]byte, bool, map[string][]byte) ([]byte, error) {
	return func(existing []byte, managed bool, _ map[string][]byte) ([]byte, error) {
		switch {
		case existing == nil:
			return nil, &notify.MissingURLError{Target: t.Name, Variable: t.URLEnv}
		case !managed:
			if _, ours := compareSecret(existing, nil, env, t, opts); !ours {
				return nil, foreignSecret(t)
			}
		}
		return existing, nil
	}
}

func foreignSecret(t spec.NotificationTarget) error {
	return fmt.Errorf("exists without the %q header and is not the Secret of notification target %q, so it is yours; groundwork keeps that target's webhook URL there: move your file", managedMarker, t.Name)
}

// compareSecret decrypts a SOPS file of the repository: ours when it is the
// target's Secret, same when it also holds plain and is encrypted for the
// environment's recipient. Without Decrypt nothing is known.
func compareSecret(existing, plain []byte, env *spec.Environment, t spec.NotificationTarget, opts Options) (same, ours bool) {
	if opts.Decrypt == nil || !sopsenc.IsEncrypted(existing) {
		return false, false
	}
	got, err := opts.Decrypt(existing)
	if err != nil {
		return false, false
	}
	defer clear(got)
	var have map[string]any
	if yaml.Unmarshal(got, &have) != nil {
		return false, false
	}
	meta, _ := have["metadata"].(map[string]any)
	ours = have["kind"] == "Secret" && meta["name"] == notify.SecretName(t) && meta["namespace"] == env.GitOps.Namespace
	if !ours || plain == nil {
		return false, ours
	}
	var want map[string]any
	if yaml.Unmarshal(plain, &want) != nil || !reflect.DeepEqual(have, want) {
		return false, true
	}
	// Encrypted for exactly the current key: a file an old key (after
	// keys rotate) or an extra recipient can still open is re-encrypted.
	recipients, err := sopsenc.Recipients(existing)
	return err == nil && len(recipients) == 1 && recipients[0] == opts.AgeRecipient, true
}
