package spec

import (
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var cronField = regexp.MustCompile(`^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$`)

// decodeSyncPolicy reads the Argo CD sync policy of a sync block: manual
// sync and sync windows. Both are Argo CD features; with Flux they are
// refused rather than ignored.
func (d *decoder) decodeSyncPolicy(sc *hcl.BodyContent, g *GitOps) {
	if a, ok := sc.Attributes["manual"]; ok && d.boolean(sc.Attributes, "manual", &g.Sync.Manual) && g.Engine != EngineArgoCD {
		d.errorf(a.Expr.Range().Ptr(), "Manual sync with Flux",
			"manual is an Argo CD option (Applications without automated sync); Flux always applies what Git declares. Remove it, or use engine = \"argocd\".")
		g.Sync.Manual = false
	}
	for _, b := range sc.Blocks {
		if b.Type != "window" {
			continue
		}
		if g.Engine != EngineArgoCD {
			d.errorf(b.DefRange.Ptr(), "Sync window with Flux",
				"Sync windows are an Argo CD feature; with Flux, hold changes by not merging them. Remove the window block, or use engine = \"argocd\".")
			continue
		}
		w := SyncWindow{Kind: b.Labels[0], DeclRange: b.DefRange}
		if w.Kind != WindowAllow && w.Kind != WindowDeny {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid window kind",
				"%q is not a kind of sync window.%s Valid values: %s.", w.Kind, didYouMean(w.Kind, []string{WindowAllow, WindowDeny}), quoteList([]string{WindowAllow, WindowDeny}))
			continue
		}
		wc := d.content(b.Body, windowSchema)
		if wc == nil {
			continue
		}
		if d.nonEmpty(wc.Attributes, "schedule", &w.Schedule) {
			fields := strings.Fields(w.Schedule)
			valid := len(fields) == 5
			for _, f := range fields {
				valid = valid && cronField.MatchString(f)
			}
			if !valid {
				d.errorf(wc.Attributes["schedule"].Expr.Range().Ptr(), "Invalid schedule",
					"%q is not a cron schedule: write five fields, minute hour day-of-month month day-of-week, like \"0 22 * * *\" (every day at 22:00) or \"0 8 * * 1-5\".", w.Schedule)
			}
		}
		d.duration(wc.Attributes, "duration", &w.Duration)
		if d.str(wc.Attributes, "time_zone", &w.TimeZone) {
			if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "" || w.TimeZone == "Local" {
				d.errorf(wc.Attributes["time_zone"].Expr.Range().Ptr(), "Invalid time zone",
					"%q is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".", w.TimeZone)
			}
		}
		d.boolean(wc.Attributes, "manual_sync", &w.ManualSync)
		g.Sync.Windows = append(g.Sync.Windows, w)
	}
}
