package spec

import "github.com/hashicorp/hcl/v2"

// maxTargetName keeps the names of a target's objects (the longest is
// its Secret, groundwork-notification-<name>) within the 63 characters of
// a Kubernetes name.
const maxTargetName = 39

var (
	notificationsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "on"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: NotifySlack, LabelNames: []string{"name"}},
			{Type: NotifyWebhook, LabelNames: []string{"name"}},
		},
	}
	// url is in the schemas only to be refused with a hint: the URL of a
	// webhook is a credential.
	targetSchemas = map[string]*hcl.BodySchema{
		NotifySlack: {Attributes: []hcl.AttributeSchema{
			{Name: "url_env", Required: true}, {Name: "channel"}, {Name: "on"}, {Name: "url"},
		}},
		NotifyWebhook: {Attributes: []hcl.AttributeSchema{
			{Name: "url_env", Required: true}, {Name: "on"}, {Name: "url"},
		}},
	}
)

// decodeNotifications reads the notifications block: slack and webhook
// targets, each with the environment variable its URL comes from and the
// events it is sent (the block's on, unless it has its own).
func (d *decoder) decodeNotifications(block *hcl.Block, env *Environment) *Notifications {
	n := &Notifications{DeclRange: block.DefRange}
	if env.GitOps.Engine == EngineFlux && env.Secrets.Provider != "" && env.Secrets.Provider != SecretsSOPS {
		d.errorf(block.DefRange.Ptr(), "Notifications need SOPS with Flux",
			"With Flux, groundwork keeps each webhook URL in a Secret in the repository, encrypted with SOPS, so that the URL is never in Git in plaintext; with provider = %q it has no key to encrypt it with. Use provider = \"sops\" (the default), or remove the notifications block.",
			env.Secrets.Provider)
	}
	c := d.content(block.Body, notificationsSchema)
	if c == nil {
		return n
	}
	on := []string{EventFailure, EventRecovery}
	d.events(c.Attributes, &on)
	seen := map[string]hcl.Range{}
	for _, b := range c.Blocks {
		t := NotificationTarget{Name: b.Labels[0], Type: b.Type, On: on, DeclRange: b.DefRange}
		if prev, dup := seen[t.Name]; dup {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate notification target",
				"A notification target named %q is already declared at %s; target names must be unique, whatever their type.", t.Name, prev)
			continue
		}
		seen[t.Name] = b.DefRange
		if !dnsLabel.MatchString(t.Name) || len(t.Name) > maxTargetName {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid notification target name",
				"%q names the reconciler's objects for this target: use at most %d lowercase letters, digits and dashes, starting and ending with a letter or digit (like \"ops\" or \"pager\").",
				t.Name, maxTargetName)
		}
		tc := d.content(b.Body, targetSchemas[t.Type])
		if tc == nil {
			continue
		}
		if a, ok := tc.Attributes["url"]; ok {
			d.errorf(a.NameRange.Ptr(), "Webhook URL in the environment file",
				"The URL of a webhook is a credential (whoever has it can post): never write it in the file, which goes to Git. Put it in an environment variable and name that variable with url_env = \"%s\"; groundwork reads it when up runs and keeps it only encrypted.",
				exampleURLEnv(t.Type))
		}
		if d.nonEmpty(tc.Attributes, "url_env", &t.URLEnv) && !envVarName.MatchString(t.URLEnv) {
			d.errorf(tc.Attributes["url_env"].Expr.Range().Ptr(), "Invalid environment variable name",
				"url_env names the environment variable that holds the webhook URL, like %q; %q is not such a name. Never put the URL itself in the file.",
				exampleURLEnv(t.Type), t.URLEnv)
		}
		d.nonEmpty(tc.Attributes, "channel", &t.Channel)
		d.events(tc.Attributes, &t.On)
		n.Targets = append(n.Targets, t)
	}
	if len(c.Blocks) == 0 {
		d.errorf(block.DefRange.Ptr(), "Empty notifications block",
			"A notifications block needs at least one target, like:\n\n  notifications {\n    slack \"ops\" { url_env = \"SLACK_WEBHOOK_URL\" }\n  }\n\nor webhook \"name\" { url_env = \"...\" } for any HTTP endpoint. Remove the block to send no notifications.")
	}
	return n
}

// events reads an on attribute: a list of notification events that must
// include failure (a recovery is news only after the failure it ends), in
// NotifyEvents order.
func (d *decoder) events(a attrs, dst *[]string) {
	var list []string
	if !d.strList(a, "on", &list) {
		return
	}
	rng := a["on"].Expr.Range().Ptr()
	want := map[string]bool{}
	ok := true
	for _, e := range list {
		switch {
		case !contains(NotifyEvents, e):
			d.errorf(rng, "Unknown notification event", "%q is not a notification event.%s Events: %s.", e, didYouMean(e, NotifyEvents), quoteList(NotifyEvents))
			ok = false
		case want[e]:
			d.errorf(rng, "Duplicate notification event", "%q is listed twice in on; list each event once.", e)
			ok = false
		}
		want[e] = true
	}
	if !ok {
		return
	}
	if !want[EventFailure] {
		d.errorf(rng, "Notifications without failures",
			"on must include \"failure\": a recovery is reported after the failure it ends (with Flux, recoveries come with the failures or not at all). Write on = [\"failure\"] or on = [\"failure\", \"recovery\"] (the default).")
		return
	}
	var out []string
	for _, e := range NotifyEvents {
		if want[e] {
			out = append(out, e)
		}
	}
	*dst = out
}

func exampleURLEnv(typ string) string {
	if typ == NotifySlack {
		return "SLACK_WEBHOOK_URL"
	}
	return "WEBHOOK_URL"
}
