package plan

import (
	"fmt"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gitops/engines"
	"github.com/groundwork-dev/groundwork/internal/notify"
	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Notification is a notification target as plan shows it: where its URL
// comes from, never the URL.
type Notification struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	URLEnv  string   `json:"url_env"`
	Channel string   `json:"channel,omitempty"`
	On      []string `json:"on"`
	// Objects are what the reconciler is given for the target.
	Objects []string `json:"objects"`
}

// Notifications lists the environment's notification targets (none without
// a notifications block).
func Notifications(env *spec.Environment) []Notification {
	if env.Notifications == nil {
		return nil
	}
	objects := engines.For(env).Plan().NotificationObjects
	var out []Notification
	for _, t := range env.Notifications.Targets {
		n := Notification{Name: t.Name, Type: t.Type, URLEnv: t.URLEnv, Channel: t.Channel, On: t.On}
		n.Objects = objects(t)
		out = append(out, n)
	}
	return out
}

// writeNotifications lists the targets under the plan's header.
func writeNotifications(b *strings.Builder, env *spec.Environment) {
	if env.Notifications == nil {
		return
	}
	width := 0
	for _, t := range env.Notifications.Targets {
		width = max(width, len(t.Name))
	}
	for _, t := range env.Notifications.Targets {
		fmt.Fprintf(b, "  notify %-*s  %s\n", width, t.Name, notify.Describe(t))
	}
}
