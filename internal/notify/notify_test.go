package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/groundwork-dev/groundwork/internal/spec"
)

const secretURL = "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken"

func env(engine string) *spec.Environment {
	return &spec.Environment{Name: "analytics", GitOps: spec.GitOps{Engine: engine, Namespace: "argocd"},
		Notifications: &spec.Notifications{Targets: []spec.NotificationTarget{
			{Name: "ops", Type: spec.NotifySlack, URLEnv: "SLACK_WEBHOOK_URL", Channel: "#ops", On: []string{spec.EventFailure, spec.EventRecovery}},
			{Name: "pager", Type: spec.NotifyWebhook, URLEnv: "PAGER_URL", On: []string{spec.EventFailure}},
		}}}
}

// TestURLs reads the URLs from the environment; a missing or malformed one
// is an error that names the variable, never the value.
func TestURLs(t *testing.T) {
	e := env(spec.EngineFlux)
	urls, err := URLs(e, []string{"SLACK_WEBHOOK_URL=" + secretURL, "PAGER_URL= http://pager.local:8080/x ", "OTHER=1"})
	if err != nil || urls["ops"] != secretURL || urls["pager"] != "http://pager.local:8080/x" {
		t.Fatalf("URLs: %v %v", urls, err)
	}
	var missing *MissingURLError
	if _, err := URLs(e, []string{"SLACK_WEBHOOK_URL=" + secretURL, "PAGER_URL="}); !errors.As(err, &missing) || missing.Variable != "PAGER_URL" || missing.Target != "pager" {
		t.Fatalf("empty variable: %v", err)
	}
	for _, bad := range []string{"hooks.slack.com/services/s3cr3t", "ftp://host/s3cr3t", "https:///s3cr3t", "%zz-s3cr3t"} {
		_, err := URLs(e, []string{"SLACK_WEBHOOK_URL=" + bad, "PAGER_URL=https://p"})
		var invalid *InvalidURLError
		if !errors.As(err, &invalid) || invalid.Variable != "SLACK_WEBHOOK_URL" {
			t.Errorf("%q: %v", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error shows the value: %v", err)
		}
	}
}

func TestFluxSecret(t *testing.T) {
	tgt := env(spec.EngineFlux).Notifications.Targets[0]
	var s corev1.Secret
	if err := yaml.Unmarshal(FluxSecret("flux-system", tgt, secretURL), &s); err != nil {
		t.Fatal(err)
	}
	if s.Kind != "Secret" || s.Namespace != "flux-system" || s.Name != "groundwork-notification-ops" || string(s.Data[AddressKey]) != secretURL {
		t.Fatalf("%+v", s)
	}
	if FluxSeverity(tgt) != "info" || FluxProviderType(tgt) != "slack" {
		t.Error("ops: info, slack")
	}
	pager := env(spec.EngineFlux).Notifications.Targets[1]
	if FluxSeverity(pager) != "error" || FluxProviderType(pager) != "generic" {
		t.Error("pager: error, generic")
	}
}

// TestArgoCDValues checks the argocd-notifications values: a webhook
// service per target reading its URL from the Secret, a subscription per
// target to the triggers of its events, and templates that render, with the
// functions argocd-notifications gives them (sprig's), to JSON shaped as
// Flux's notifiers send it: Slack's payload for Slack, the event for a
// webhook.
func TestArgoCDValues(t *testing.T) {
	e := env(spec.EngineArgoCD)
	v := ArgoCDValues(e)["notifications"].(map[string]any)
	if v["enabled"] != true || v["secret"].(map[string]any)["create"] != false {
		t.Fatalf("enabled and the chart's Secret off: %v %v", v["enabled"], v["secret"])
	}
	notifiers := v["notifiers"].(map[string]any)
	if !strings.Contains(notifiers["service.webhook.ops"].(string), "url: $ops-url\n") || !strings.Contains(notifiers["service.webhook.pager"].(string), "url: $pager-url\n") {
		t.Fatalf("notifiers: %v", notifiers)
	}
	subs, _ := json.Marshal(v["subscriptions"])
	if string(subs) != `[{"recipients":["ops"],"triggers":["groundwork-failure","groundwork-recovery"]},{"recipients":["pager"],"triggers":["groundwork-failure"]}]` {
		t.Fatalf("subscriptions: %s", subs)
	}
	for name, tr := range v["triggers"].(map[string]any) {
		var conds []struct {
			When string
			Send []string
		}
		if err := yaml.Unmarshal([]byte(tr.(string)), &conds); err != nil || len(conds) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range conds {
			if c.When == "" || len(c.Send) != 1 || "trigger."+c.Send[0] != name {
				t.Errorf("%s: %+v", name, c)
			}
		}
	}

	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	failing := map[string]any{"metadata": map[string]any{"name": "shop", "namespace": "argocd"},
		"status": map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": "abc123"},
			"health":         map[string]any{"status": "Degraded", "message": `Back-off "pulling" image`},
			"operationState": map[string]any{"phase": "Failed", "message": `one or more objects failed to apply: "bad"`}}}
	fresh := map[string]any{"metadata": map[string]any{"name": "shop", "namespace": "argocd"}, "status": map[string]any{}}
	templates := v["templates"].(map[string]any)
	for _, trigger := range []string{FailureTrigger, RecoveryTrigger} {
		var tpl struct {
			Webhook map[string]struct{ Method, Body string }
		}
		if err := yaml.Unmarshal([]byte(templates["template."+trigger].(string)), &tpl); err != nil {
			t.Fatal(err)
		}
		if len(tpl.Webhook) != 2 {
			t.Fatalf("%s: a webhook per target: %v", trigger, tpl.Webhook)
		}
		for service, w := range tpl.Webhook {
			tm, err := template.New(service).Funcs(funcs).Parse(w.Body)
			if err != nil || w.Method != "POST" {
				t.Fatalf("%s %s: %v (method %s)", trigger, service, err, w.Method)
			}
			for _, app := range []map[string]any{failing, fresh} {
				var out bytes.Buffer
				if err := tm.Execute(&out, map[string]any{"app": app, "context": map[string]any{"environment": "analytics"}}); err != nil {
					t.Fatalf("%s %s: %v", trigger, service, err)
				}
				var payload struct {
					Text        string
					Channel     string
					Attachments []struct{ Color, Text string }
					Severity    string
					Message     string
					Metadata    map[string]string
				}
				if err := json.Unmarshal(out.Bytes(), &payload); err != nil {
					t.Fatalf("%s %s: not JSON: %v\n%s", trigger, service, err, out.String())
				}
				if service == "ops" {
					if len(payload.Attachments) != 1 || payload.Channel != "#ops" || !strings.Contains(payload.Attachments[0].Text, "Application shop of environment analytics") {
						t.Errorf("%s: not Slack's payload: %s", trigger, out.String())
					}
				} else if payload.Metadata["environment"] != "analytics" || payload.Message == "" || (payload.Severity == "error") != (trigger == FailureTrigger) {
					t.Errorf("%s: not an event: %s", trigger, out.String())
				}
				if trigger == FailureTrigger && app["status"].(map[string]any)["operationState"] != nil && !strings.Contains(out.String(), `failed to apply: \"bad\"`) {
					t.Errorf("the failure's message is not in %s", out.String())
				}
			}
		}
	}
	if ArgoCDValues(&spec.Environment{}) != nil {
		t.Error("no notifications, no values")
	}
}

func TestDescribeNeverHasAURL(t *testing.T) {
	for _, tgt := range env(spec.EngineFlux).Notifications.Targets {
		if d := Describe(tgt); !strings.Contains(d, "$"+tgt.URLEnv) || strings.Contains(d, "://") {
			t.Errorf("%s: %s", tgt.Name, d)
		}
	}
}
