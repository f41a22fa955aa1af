package drill

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":    ms,
	"title": func(l Layer) string { return l.Title() },
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"ready": func(objs []Object) string {
		if len(objs) == 0 {
			return "-"
		}
		n := 0
		for _, o := range objs {
			if o.Ready {
				n++
			}
		}
		return fmt.Sprintf("%d/%d", n, len(objs))
	},
}).Parse(reportHTML))

// bar is one layer on the timeline, in the SVG's units.
type bar struct {
	LayerResult
	Y, X, W float64
	Label   string
}

// WriteHTML writes the report as one self-contained HTML page: inline
// CSS and SVG, no script, nothing fetched.
func (r *Report) WriteHTML(w io.Writer) error {
	const width, row = 720.0, 34.0
	total := r.TookMS
	if r.Removal != nil {
		total -= r.Removal.TookMS
	}
	for _, l := range r.Layers {
		if end := l.StartMS + l.TookMS; end > total {
			total = end
		}
	}
	if total <= 0 {
		total = 1
	}
	var bars []bar
	for i, l := range r.Layers {
		b := bar{LayerResult: l, Y: float64(i) * row, Label: ms(l.TookMS)}
		if l.State != StateNotReached {
			b.X = float64(l.StartMS) / float64(total) * width
			b.W = max(float64(l.TookMS)/float64(total)*width, 2)
		} else {
			b.Label = "not reached"
		}
		bars = append(bars, b)
	}
	return reportTmpl.Execute(w, map[string]any{
		"R": r, "Bars": bars, "NoObjects": "no objects", "Width": width, "Total": ms(total),
		"ViewBox": fmt.Sprintf("-130 -6 %.0f %.0f", width+230, float64(len(bars))*row+6),
	})
}
