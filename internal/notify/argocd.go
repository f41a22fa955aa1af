package notify

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

// Argo CD's notifications, as the argo-cd chart configures them.
const (
	// ArgoCDSecret is the Secret argocd-notifications reads the $keys of
	// its configuration from; groundwork applies it (the chart's is off).
	ArgoCDSecret = "argocd-notifications-secret"
	// NotifiedAnnotation is where argocd-notifications records, on each
	// Application, the notifications it delivered and still counts as
	// sent: a JSON object from "[oncePer:]trigger:condition:service:recipient"
	// to the Unix time of the delivery. A failed delivery is not recorded.
	NotifiedAnnotation = "notified.notifications.argoproj.io"
	// FailureTrigger and RecoveryTrigger are groundwork's triggers; their
	// templates have the same names.
	FailureTrigger  = "groundwork-failure"
	RecoveryTrigger = "groundwork-recovery"
)

// ArgoCDSecretKey is the key of argocd-notifications-secret that holds a
// target's URL (its service refers to it as $<key>).
func ArgoCDSecretKey(t spec.NotificationTarget) string { return t.Name + "-url" }

// ArgoCDTrigger is the trigger of an event.
func ArgoCDTrigger(event string) string {
	if event == spec.EventRecovery {
		return RecoveryTrigger
	}
	return FailureTrigger
}

// failureConditions are the failure trigger's: a sync that failed, or an
// application that degraded (as Argo CD's catalog says them). Without
// oncePer, each is sent when it becomes true, and again after it was false.
const failureConditions = `- description: A sync of the Application failed
  send: [groundwork-failure]
  when: app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']
- description: The Application is degraded
  send: [groundwork-failure]
  when: app.status.health.status == 'Degraded'
`

// recoveryConditions: Synced and Healthy, with no failed operation, after a
// failure was sent. The expression sees the Application as it was before
// this round of triggers, whose notified annotation still holds the failure
// (the round removes it once the failure's conditions are false), so a
// recovery is sent once per failure and never for a first deployment.
const recoveryConditions = `- description: The Application is Synced and Healthy again after a failure
  send: [groundwork-recovery]
  when: app.status.sync.status == 'Synced' and app.status.health.status == 'Healthy' and (app.status.operationState == nil or app.status.operationState.phase == 'Succeeded') and ((app.metadata.annotations ?? {})['` + NotifiedAnnotation + `'] ?? '') contains '` + FailureTrigger + `:['
`

// The notification texts, from the Application: what failed and why, or
// that it recovered, with the environment's name (the chart's context).
const (
	appVars = `{{- $app := .app -}}
{{- $name := $app.metadata.name -}}
{{- $ns := $app.metadata.namespace -}}
{{- $sync := dig "status" "sync" "status" "Unknown" $app -}}
{{- $health := dig "status" "health" "status" "Unknown" $app -}}
{{- $revision := dig "status" "sync" "revision" "" $app -}}
{{- $phase := dig "status" "operationState" "phase" "" $app -}}
{{- $opmsg := dig "status" "operationState" "message" "" $app -}}
{{- $hmsg := dig "status" "health" "message" "" $app -}}
`
	failureText = `{{- $text := printf "Application %s of environment %s failed: sync %s" $name .context.environment $sync -}}
{{- if $phase }}{{ $text = printf "%s, last sync %s" $text $phase }}{{ if $opmsg }}{{ $text = printf "%s: %s" $text $opmsg }}{{ end }}{{ end -}}
{{- $text = printf "%s; health %s" $text $health -}}
{{- if $hmsg }}{{ $text = printf "%s: %s" $text $hmsg }}{{ end -}}
`
	recoveryText = `{{- $text := printf "Application %s of environment %s recovered: Synced and Healthy at %s" $name .context.environment $revision -}}
`
	// slackBody is the payload of a Slack incoming webhook, shaped as
	// Flux's Slack notifier sends it.
	slackBody = `{{- dict "username" "Argo CD" %s"text" $text "attachments" (list (dict "color" %q "author_name" (printf "application/%%s.%%s" $name $ns) "text" $text "mrkdwn_in" (list "text") "fields" (list (dict "title" "environment" "value" .context.environment "short" false) (dict "title" "revision" "value" $revision "short" false)))) | toJson -}}`
	// eventBody is the payload of a generic webhook: an event shaped as
	// Flux's generic provider posts its events.
	eventBody = `{{- dict "involvedObject" (dict "apiVersion" "argoproj.io/v1alpha1" "kind" "Application" "namespace" $ns "name" $name) "severity" %q "timestamp" (dateInZone "2006-01-02T15:04:05Z07:00" now "UTC") "message" $text "reason" %q "metadata" (dict "environment" .context.environment "revision" $revision) "reportingController" "argocd-notifications-controller" | toJson -}}`
)

// ArgoCDValues are the argo-cd chart values that configure
// argocd-notifications for the environment's targets (nil without
// notifications): one webhook service per target (a Slack incoming webhook
// is a webhook posting Slack's payload), groundwork's failure and recovery
// triggers and templates, and a subscription per target to the triggers of
// its events. The chart's Secret is off: up applies it with the URLs. The
// same values go to the Helm release and to the Application by which Argo
// CD manages itself.
func ArgoCDValues(env *spec.Environment) map[string]any {
	n := env.Notifications
	if n == nil {
		return nil
	}
	notifiers := map[string]any{}
	templates := map[string]map[string]any{FailureTrigger: {}, RecoveryTrigger: {}}
	var subscriptions []any
	for _, t := range n.Targets {
		notifiers["service.webhook."+t.Name] = "url: $" + ArgoCDSecretKey(t) + "\nheaders:\n  - name: Content-Type\n    value: application/json\n"
		for _, event := range []string{spec.EventFailure, spec.EventRecovery} {
			templates[ArgoCDTrigger(event)][t.Name] = map[string]any{"method": "POST", "body": body(t, event)}
		}
		var triggers []any
		for _, e := range t.On {
			triggers = append(triggers, ArgoCDTrigger(e))
		}
		subscriptions = append(subscriptions, map[string]any{"recipients": []any{t.Name}, "triggers": triggers})
	}
	tmpl := map[string]any{}
	for name, hooks := range templates {
		b, err := yaml.Marshal(map[string]any{"webhook": hooks})
		if err != nil {
			panic(err) // strings and maps always marshal
		}
		tmpl["template."+name] = string(b)
	}
	return map[string]any{"notifications": map[string]any{
		"enabled":   true,
		"secret":    map[string]any{"create": false},
		"context":   map[string]any{"environment": env.Name},
		"notifiers": notifiers,
		"templates": tmpl,
		"triggers": map[string]any{
			"trigger." + FailureTrigger:  failureConditions,
			"trigger." + RecoveryTrigger: recoveryConditions,
		},
		"subscriptions": subscriptions,
	}}
}

// body is the webhook body template of a target for an event.
func body(t spec.NotificationTarget, event string) string {
	text, color, severity, reason := failureText, "danger", "error", "SyncFailedOrDegraded"
	if event == spec.EventRecovery {
		text, color, severity, reason = recoveryText, "good", "info", "Recovered"
	}
	var b strings.Builder
	b.WriteString(appVars)
	b.WriteString(text)
	if t.Type == spec.NotifySlack {
		channel := ""
		if t.Channel != "" {
			channel = `"channel" ` + strconv.Quote(t.Channel) + " "
		}
		b.WriteString(fmt.Sprintf(slackBody, channel, color))
	} else {
		b.WriteString(fmt.Sprintf(eventBody, severity, reason))
	}
	return b.String()
}

// ArgoCDSecretData is the content of argocd-notifications-secret: each
// target's URL under its key.
func ArgoCDSecretData(env *spec.Environment, urls map[string]string) map[string][]byte {
	data := map[string][]byte{}
	if env.Notifications == nil {
		return data
	}
	for _, t := range env.Notifications.Targets {
		if u, ok := urls[t.Name]; ok {
			data[ArgoCDSecretKey(t)] = []byte(u)
		}
	}
	return data
}
