package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// JSONFormatVersion is the version of plan -json documents and apply -json events.
const JSONFormatVersion = "1"

// planCounts counts changes by action.
type planCounts struct {
	Change    int `json:"change"`
	Reinstall int `json:"reinstall"`
	OK        int `json:"ok"`
	Protected int `json:"protected"`
	Blocked   int `json:"blocked"`
}

func countChanges(changes []plan.Change) planCounts {
	var c planCounts
	for _, ch := range changes {
		switch ch.Action {
		case plan.ActionChange:
			c.Change++
		case plan.ActionReinstall:
			c.Reinstall++
		case plan.ActionOK:
			c.OK++
		case plan.ActionProtected:
			c.Protected++
		case plan.ActionBlocked:
			c.Blocked++
		}
	}
	return c
}

func (c planCounts) mutating() int { return c.Change + c.Reinstall }

func (c planCounts) String() string {
	return fmt.Sprintf("%d to change, %d to reinstall, %d ok, %d protected, %d blocked",
		c.Change, c.Reinstall, c.OK, c.Protected, c.Blocked)
}

func instanceLabel(in *plan.Instance) string {
	if in.Name != "" {
		return fmt.Sprintf("%s %s (%s)", in.Provider, in.Name, in.ID)
	}
	return in.Provider + " " + in.ID
}

// renderPlan prints the changes grouped by action, the waves and a summary
// line. Instances that are ok are counted, not listed: a fleet of thousands is
// mostly ok, and what matters is what will change or cannot.
func renderPlan(w io.Writer, p *plan.Plan, shard plan.Shard, changes []plan.Change, pending int) {
	counts := countChanges(changes)
	scope := fmt.Sprintf("%d instances", len(changes))
	if shard.Count > 1 {
		scope += ", shard " + shard.String()
	}
	fmt.Fprintf(w, "Plan %s (%s, %s)\n", p.Name, p.File, scope)
	groups := []struct {
		action plan.Action
		title  string
	}{
		{plan.ActionChange, "Change image"},
		{plan.ActionReinstall, "Reinstall (new reinstall token)"},
		{plan.ActionBlocked, "Blocked (will not be touched)"},
		{plan.ActionProtected, "Protected (will not be touched)"},
	}
	for _, g := range groups {
		var lines []string
		for _, c := range changes {
			if c.Action != g.action {
				continue
			}
			in := c.Instance
			var line string
			switch g.action {
			case plan.ActionChange:
				line = fmt.Sprintf("%s: %s -> %s", instanceLabel(in), c.FromImage, in.Image)
			case plan.ActionReinstall:
				line = fmt.Sprintf("%s: %s, %s", instanceLabel(in), in.Image, c.Reason)
			default:
				line = fmt.Sprintf("%s: %s", instanceLabel(in), c.Reason)
			}
			if c.StopFirst {
				line += " (stop first, start after)"
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d\n  %s\n", g.title, len(lines), strings.Join(lines, "\n  "))
	}
	if pending > 0 {
		fmt.Fprintf(w, "\nIn doubt: %d instances were left in doubt by an earlier run; apply resolves them first by asking the cloud.\n", pending)
	}
	if n := counts.mutating(); n > 0 {
		mutating := mutatingChanges(changes)
		_, sizes := p.WaveOrder(mutating)
		parts := make([]string, len(sizes))
		for i, s := range sizes {
			parts[i] = fmt.Sprint(s)
		}
		fmt.Fprintf(w, "\nWaves: %s (concurrency %d, maxFailures %s)\n", strings.Join(parts, ", "), p.Rollout.Concurrency, p.Rollout.MaxFailures)
		if canaries := p.Canaries(mutating); len(canaries) > 0 {
			fmt.Fprintf(w, "Canaries (wave 1, one per provider and target image):\n")
			for _, c := range canaries {
				fmt.Fprintf(w, "  %s -> %s\n", instanceLabel(c.Instance), c.Instance.Image)
			}
		}
	}
	fmt.Fprintf(w, "\nPlan: %s.\n", counts)
}

// planJSON is the plan -json document, format_version 1.
type planJSON struct {
	FormatVersion string             `json:"format_version"`
	Plan          string             `json:"plan"`
	File          string             `json:"file"`
	Shard         string             `json:"shard,omitempty"`
	Instances     []planInstanceJSON `json:"instances"`
	Waves         []int              `json:"waves"`
	// Canaries: the first wave's instances that prove an image, "provider/id".
	Canaries []string   `json:"canaries,omitempty"`
	InDoubt  int        `json:"in_doubt"`
	Summary  planCounts `json:"summary"`
}

type planInstanceJSON struct {
	Provider  string `json:"provider"`
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Action    string `json:"action"`
	Reason    string `json:"reason,omitempty"`
	State     string `json:"state,omitempty"`
	FromImage string `json:"from_image,omitempty"`
	ToImage   string `json:"to_image"`
	StopFirst bool   `json:"stop_first"`
}

func renderPlanJSON(w io.Writer, p *plan.Plan, shard plan.Shard, changes []plan.Change, pending int) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newPlanJSON(p, shard, changes, pending))
}

// writePlanEvent writes apply -json's first line: a "plan" event whose "plan"
// field is the document plan -json prints.
func writePlanEvent(w io.Writer, p *plan.Plan, shard plan.Shard, changes []plan.Change, pending int) error {
	return json.NewEncoder(w).Encode(struct {
		FormatVersion string   `json:"format_version"`
		Type          string   `json:"type"`
		Time          string   `json:"time"`
		Plan          planJSON `json:"plan"`
	}{JSONFormatVersion, "plan", time.Now().UTC().Format(time.RFC3339Nano), newPlanJSON(p, shard, changes, pending)})
}

func newPlanJSON(p *plan.Plan, shard plan.Shard, changes []plan.Change, pending int) planJSON {
	doc := planJSON{FormatVersion: JSONFormatVersion, Plan: p.Name, File: p.File, Shard: shard.String(),
		Instances: make([]planInstanceJSON, 0, len(changes)), InDoubt: pending, Summary: countChanges(changes)}
	for _, c := range changes {
		in := c.Instance
		doc.Instances = append(doc.Instances, planInstanceJSON{Provider: in.Provider, ID: in.ID, Name: in.Name,
			Action: c.Action.String(), Reason: c.Reason, State: c.Observed.Raw, FromImage: c.FromImage, ToImage: in.Image, StopFirst: c.StopFirst})
	}
	mutating := mutatingChanges(changes)
	_, doc.Waves = p.WaveOrder(mutating)
	if doc.Waves == nil {
		doc.Waves = []int{}
	}
	for _, c := range p.Canaries(mutating) {
		doc.Canaries = append(doc.Canaries, plan.Key(c.Instance.Provider, c.Instance.ID))
	}
	return doc
}

// mutatingChanges are the changes apply makes (change and reinstall).
func mutatingChanges(changes []plan.Change) []*plan.Change {
	var out []*plan.Change
	for i := range changes {
		if changes[i].Action.Mutates() {
			out = append(out, &changes[i])
		}
	}
	return out
}
