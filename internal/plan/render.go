package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
)

// Status of a step in a rendered plan.
const (
	StatusPending = "pending"
	// StatusRecorded means the journal shows the step completed with the
	// same inputs; up still checks it against the live cluster.
	StatusRecorded = "recorded-done"
)

// Pending lists the steps the journal does not show as completed with the
// same inputs (all of them without a journal).
// With a Terraform summary, the cluster step is pending when Terraform has
// changes to make, whatever the journal says.
func (p *Plan) Pending(j *actions.Journal) []actions.Description {
	pending := actions.Pending(j, p.Steps)
	if p.Terraform == nil {
		return pending
	}
	var out []actions.Description
	for _, d := range p.Steps {
		if d.Name == StepCluster && !p.Terraform.Empty() {
			out = append(out, d)
			continue
		}
		for _, q := range pending {
			if q.Name == d.Name && (d.Name != StepCluster || !p.Terraform.Empty()) {
				out = append(out, d)
			}
		}
	}
	return out
}

// WriteText renders the plan for people.
func (p *Plan) WriteText(w io.Writer, j *actions.Journal) error {
	env := p.Env
	pending := map[string]bool{}
	for _, d := range p.Pending(j) {
		pending[d.Name] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for environment %q (%s)\n", env.Name, env.File)
	fmt.Fprintf(&b, "  cluster %s, %s, secrets %s", env.Cluster.Provider, spec.EngineWithChart(env.GitOps), env.Secrets.Provider)
	if env.Ephemeral != nil {
		fmt.Fprintf(&b, ", expires %s after up", spec.FormatDuration(env.Ephemeral.TTL))
	}
	b.WriteString("\n")
	writeNotifications(&b, env)
	b.WriteString("\n")
	for i, s := range p.Steps {
		mark := ""
		if !pending[s.Name] {
			mark = "  (done in the last run with these inputs)"
		}
		fmt.Fprintf(&b, "%d. %s: %s%s\n", i+1, s.Name, s.Title, mark)
		for _, a := range s.Actions {
			fmt.Fprintf(&b, "     %s %s\n", symbol(a.Op), a.Resource)
			if a.Detail != "" {
				fmt.Fprintf(&b, "         %s\n", a.Detail)
			}
		}
		if s.Name == StepCluster && p.Terraform != nil {
			writeTerraform(&b, p.Terraform)
		}
	}
	if p.Repository != nil {
		writeRepository(&b, p.Repository)
	}
	n := len(pending)
	switch {
	case n == 0:
		fmt.Fprintf(&b, "\nThe last up completed every step with these inputs; up will only check them.\n")
	default:
		fmt.Fprintf(&b, "\n%d step%s, %d to run. Nothing has been changed; run groundwork up %s to apply.\n", len(p.Steps), plural(len(p.Steps)), n, env.File)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxChanges is how many resource changes plan lists; the count is always
// complete.
const maxChanges = 40

func writeTerraform(b *strings.Builder, sum *terraform.Summary) {
	if sum.Empty() {
		fmt.Fprintf(b, "     Terraform: no changes; the cluster is as the environment file says.\n")
		return
	}
	fmt.Fprintf(b, "     Terraform: %s.\n", sum)
	for i, c := range sum.Changes {
		if i == maxChanges {
			fmt.Fprintf(b, "       ... and %d more\n", len(sum.Changes)-maxChanges)
			break
		}
		fmt.Fprintf(b, "       %s %s\n", changeSymbol(c.Actions), c.Address)
	}
}

// changeSymbol is terraform's own notation of an action list.
func changeSymbol(ops []string) string {
	switch strings.Join(ops, ",") {
	case "create":
		return "+"
	case "delete":
		return "-"
	case "update":
		return "~"
	case "delete,create":
		return "-/+"
	case "create,delete":
		return "+/-"
	}
	return strings.Join(ops, ",")
}

func symbol(op actions.Op) string {
	switch op {
	case actions.OpRead:
		return "<="
	case actions.OpWait:
		return "..."
	}
	return "+"
}

// JSON is the machine-readable plan; FormatVersion changes only when the
// shape changes incompatibly.
type JSON struct {
	FormatVersion string     `json:"format_version"`
	Environment   string     `json:"environment"`
	File          string     `json:"file"`
	Cluster       string     `json:"cluster"`
	Engine        string     `json:"engine"`
	Secrets       string     `json:"secrets"`
	Steps         []JSONStep `json:"steps"`
	Pending       int        `json:"pending"`
	// Terraform is terraform plan's summary (plan --terraform).
	Terraform *terraform.Summary `json:"terraform,omitempty"`
	// Repository is the seed step's change to the repository.
	Repository *Repository `json:"repository,omitempty"`
	// Notifications are the notification targets (never their URLs).
	Notifications []Notification `json:"notifications,omitempty"`
}

// JSONStep is a step of the machine-readable plan.
type JSONStep struct {
	actions.Description
	Status string `json:"status"`
}

// ToJSON converts the plan to its machine-readable form.
func (p *Plan) ToJSON(j *actions.Journal) JSON {
	pending := map[string]bool{}
	for _, d := range p.Pending(j) {
		pending[d.Name] = true
	}
	out := JSON{FormatVersion: "1", Environment: p.Env.Name, File: p.Env.File, Cluster: p.Env.Cluster.Provider,
		Engine: p.Env.GitOps.Engine, Secrets: p.Env.Secrets.Provider, Steps: make([]JSONStep, 0, len(p.Steps)), Pending: len(pending),
		Terraform: p.Terraform, Repository: p.Repository, Notifications: Notifications(p.Env)}
	for _, s := range p.Steps {
		st := StatusRecorded
		if pending[s.Name] {
			st = StatusPending
		}
		out.Steps = append(out.Steps, JSONStep{Description: s, Status: st})
	}
	return out
}

// WriteJSON writes the machine-readable plan.
func (p *Plan) WriteJSON(w io.Writer, j *actions.Journal) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p.ToJSON(j))
}
