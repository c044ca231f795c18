package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
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
		c.add(ch.Action)
	}
	return c
}

func (c *planCounts) add(a plan.Action) {
	switch a {
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

func (c planCounts) mutating() int { return c.Change + c.Reinstall }

// question is the confirmation prompt: it states what the "yes" is for.
func (c planCounts) question() string {
	what := fmt.Sprintf("%d instances will change image", c.Change)
	if c.Reinstall > 0 {
		what += fmt.Sprintf(" and %d will be reinstalled", c.Reinstall)
	}
	return fmt.Sprintf("Do you want to re-image these instances? %s (%d ok, %d protected, %d blocked are left alone). Their system disks will be wiped.", what, c.OK, c.Protected, c.Blocked)
}

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

// renderPlan prints a summary first (the scope, then per provider how many
// instances change from which image to which, are reinstalled, ok, protected or
// blocked and why, then the waves), so that a plan of thousands is read at a
// glance; then, as Terraform does, every instance that changes or cannot,
// grouped by action, and the counts again. Instances that are ok are counted,
// not listed: a fleet of thousands is mostly ok.
func renderPlan(w io.Writer, cs plan.ChangeSet, fc *rolloutForecast) {
	changes := cs.Changes
	counts := countChanges(changes)
	renderSummary(w, cs, fc)
	groups := []struct {
		action plan.Action
		title  string
	}{
		{plan.ActionChange, "Change image"},
		{plan.ActionReinstall, "Reinstall (new reinstall token)"},
		{plan.ActionBlocked, "Blocked (will not be touched)"},
		{plan.ActionProtected, "Protected (will not be touched)"},
	}
	listed := false
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
		listed = true
		fmt.Fprintf(w, "\n%s: %d\n  %s\n", g.title, len(lines), strings.Join(lines, "\n  "))
	}
	if listed {
		fmt.Fprintf(w, "\nPlan: %s.\n", counts)
	}
}

// summaryRows is the most image transitions or blocked reasons a provider's
// summary lists; the rest are counted in one line, so that the summary of any
// fleet stays on one screen.
const summaryRows = 5

// renderSummary prints the plan's header and summary; fc is the rollout's
// forecast (nil: none).
func renderSummary(w io.Writer, cs plan.ChangeSet, fc *rolloutForecast) {
	p, shard, changes, pending := cs.Plan, cs.Shard, cs.Changes, cs.Pending
	counts := countChanges(changes)
	scope := fmt.Sprintf("%d instances", len(changes))
	if shard.Count > 1 {
		scope += ", shard " + shard.String()
	}
	fmt.Fprintf(w, "Plan %s (%s, %s)\n", p.Name, p.File, scope)
	if nw := p.Narrowing; nw != nil && !nw.Targeting.IsZero() {
		var flags []string
		for _, t := range nw.Include {
			flags = append(flags, "-target "+strconv.Quote(t))
		}
		for _, t := range nw.Exclude {
			flags = append(flags, "-exclude "+strconv.Quote(t))
		}
		fmt.Fprintf(w, "Targeted: %s: %d of the plan's %d instances; the others are left as they are\n", strings.Join(flags, " "), len(p.Instances), nw.Of)
	}
	if len(p.Selectors) > 0 {
		bySelector := map[string]int{}
		for _, c := range changes {
			bySelector[c.Instance.SelectedBy]++
		}
		for _, s := range p.Selectors {
			fmt.Fprintf(w, "Selected: %s (%s, %s): %d instances\n", s.Path(), s.Template.Provider, s.Where, bySelector[s.Path()])
		}
	}
	type transition struct{ from, to string }
	type providerSummary struct {
		counts      planCounts
		transitions map[transition]int
		blocked     map[string]int
	}
	byProvider := map[string]*providerSummary{}
	for _, c := range changes {
		ps := byProvider[c.Instance.Provider]
		if ps == nil {
			ps = &providerSummary{transitions: map[transition]int{}, blocked: map[string]int{}}
			byProvider[c.Instance.Provider] = ps
		}
		ps.counts.add(c.Action)
		switch c.Action {
		case plan.ActionChange:
			ps.transitions[transition{c.FromImage, c.Instance.Image}]++
		case plan.ActionBlocked:
			ps.blocked[blockedKind(c.Reason)]++
		}
	}
	// Images the plan gives by name are shown with it.
	imageNames := map[string]string{}
	for _, im := range p.ImageIDs {
		imageNames[im.Provider+"/"+im.ID] = fmt.Sprintf(" (%q)", im.Name)
	}
	names := make([]string, 0, len(byProvider))
	for name := range byProvider {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := byProvider[name]
		fmt.Fprintf(w, "\n%s", name)
		if pp := p.Providers[name]; pp != nil {
			fmt.Fprintf(w, " (%s, %s)", pp.Type, pp.Region)
		}
		fmt.Fprintf(w, ": %s\n", ps.counts)
		trans := make([]transition, 0, len(ps.transitions))
		for t := range ps.transitions {
			trans = append(trans, t)
		}
		sort.Slice(trans, func(i, j int) bool {
			a, b := ps.transitions[trans[i]], ps.transitions[trans[j]]
			if a != b {
				return a > b
			}
			return trans[i].from+trans[i].to < trans[j].from+trans[j].to
		})
		for i, t := range trans {
			if i == summaryRows {
				rest := 0
				for _, t := range trans[i:] {
					rest += ps.transitions[t]
				}
				fmt.Fprintf(w, "  change: %d more from %d other images\n", rest, len(trans)-i)
				break
			}
			from := t.from
			if from == "" {
				from = "(unknown)"
			}
			fmt.Fprintf(w, "  change: %d %s -> %s%s\n", ps.transitions[t], from, t.to, imageNames[name+"/"+t.to])
		}
		reasons := make([]string, 0, len(ps.blocked))
		for r := range ps.blocked {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := ps.blocked[reasons[i]], ps.blocked[reasons[j]]
			if a != b {
				return a > b
			}
			return reasons[i] < reasons[j]
		})
		for i, r := range reasons {
			if i == summaryRows {
				rest := 0
				for _, r := range reasons[i:] {
					rest += ps.blocked[r]
				}
				fmt.Fprintf(w, "  blocked: %d for %d other reasons\n", rest, len(reasons)-i)
				break
			}
			fmt.Fprintf(w, "  blocked: %d %s\n", ps.blocked[r], r)
		}
	}
	if pending > 0 {
		fmt.Fprintf(w, "\nIn doubt: %d instances were left in doubt by an earlier run; apply resolves them first by asking the cloud.\n", pending)
	}
	renderBroken(w, cs.Broken())
	if n := counts.mutating(); n > 0 {
		mutating := mutatingChanges(changes)
		_, sizes := p.WaveOrder(mutating)
		fmt.Fprintf(w, "\nWaves: %s (concurrency %d%s, maxFailures %s%s)\n", waveList(sizes),
			p.Rollout.Concurrency, overridden(p.Narrowing != nil && p.Narrowing.Concurrency, "-concurrency"),
			p.Rollout.MaxFailures, overridden(p.Narrowing != nil && p.Narrowing.MaxFailures, "-max-failures"))
		if canaries := p.Canaries(mutating); len(canaries) > 0 {
			// The first wave proves each target image on one instance per
			// provider (rollout.canary: perImage).
			for _, c := range canaries {
				fmt.Fprintf(w, "Canary: %s, the first on %s\n", instanceLabel(c.Instance), c.Instance.Image)
			}
		}
		fmt.Fprint(w, renderForecast(fc))
		renderGates(w, p.Rollout, time.Now())
	}
	fmt.Fprintf(w, "\nPlan: %s.\n", counts)
}

func overridden(yes bool, flag string) string {
	if yes {
		return " from " + flag
	}
	return ""
}

// waveList renders wave sizes; a long run of equal waves (a wave of 10
// repeated over thousands of changes) is shown once with its count.
func waveList(sizes []int) string {
	var parts []string
	for i := 0; i < len(sizes); {
		j := i
		for j < len(sizes) && sizes[j] == sizes[i] {
			j++
		}
		if j-i > 4 {
			parts = append(parts, fmt.Sprintf("%d x %d", j-i, sizes[i]))
		} else {
			for k := i; k < j; k++ {
				parts = append(parts, strconv.Itoa(sizes[k]))
			}
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// blockedKind is a blocked reason without what is particular to one instance
// (the cloud's explanation of its error state), to count instances by reason.
func blockedKind(reason string) string {
	if before, _, ok := strings.Cut(reason, "): "); ok {
		return before + ")"
	}
	return reason
}

// planJSON is the plan -json document, format_version 1.
type planJSON struct {
	FormatVersion string `json:"format_version"`
	Plan          string `json:"plan"`
	File          string `json:"file"`
	Shard         string `json:"shard,omitempty"`
	// Target and Exclude are the -target and -exclude patterns that narrowed the run.
	Target    []string           `json:"target,omitempty"`
	Exclude   []string           `json:"exclude,omitempty"`
	Instances []planInstanceJSON `json:"instances"`
	Waves     []int              `json:"waves"`
	// Canaries: the first wave's instances that prove an image, "provider/id";
	// always a list, like waves (empty when nothing changes).
	Canaries []string   `json:"canaries"`
	InDoubt  int        `json:"in_doubt"`
	Summary  planCounts `json:"summary"`
	// Forecast is the rollout's forecast (absent when nothing changes).
	Forecast *forecastJSON `json:"forecast,omitempty"`
}

type planInstanceJSON struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	// SelectedBy names the selector that chose the instance ("select[0]").
	SelectedBy string `json:"selected_by,omitempty"`
	Action     string `json:"action"`
	Reason     string `json:"reason,omitempty"`
	State      string `json:"state,omitempty"`
	FromImage  string `json:"from_image,omitempty"`
	ToImage    string `json:"to_image"`
	StopFirst  bool   `json:"stop_first"`
	// Broken says why an earlier run left the instance broken.
	Broken string `json:"broken,omitempty"`
}

// maxBrokenListed bounds the broken instances the text lists; -json has them all.
const maxBrokenListed = 20

// renderBroken lists the instances earlier runs left broken: the look-up may
// call them ok (they run their target), yet apply does not converge over
// them until each is healthy again or acknowledged.
func renderBroken(w io.Writer, broken []*plan.Change) {
	if len(broken) == 0 {
		return
	}
	fmt.Fprintf(w, "\nBroken: %s left broken by an earlier run; apply does not converge until each is healthy again (apply checks) or acknowledged (reimage ack PLAN ID):\n",
		plural(len(broken), "instance"))
	for i, c := range broken {
		if i == maxBrokenListed {
			fmt.Fprintf(w, "  … and %d more (plan -json lists them all)\n", len(broken)-i)
			break
		}
		in := c.Instance
		fmt.Fprintf(w, "  %s %s (%s): %s\n", in.Provider, in.Name, in.ID, c.Broken)
	}
}

func renderPlanJSON(w io.Writer, cs plan.ChangeSet, fc *rolloutForecast) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newPlanJSON(cs, fc))
}

// writePlanEvent writes apply -json's first line: a "plan" event whose "plan"
// field is the document plan -json prints.
func writePlanEvent(w io.Writer, cs plan.ChangeSet, fc *rolloutForecast) error {
	return json.NewEncoder(w).Encode(struct {
		FormatVersion string   `json:"format_version"`
		Type          string   `json:"type"`
		Time          string   `json:"time"`
		Plan          planJSON `json:"plan"`
	}{JSONFormatVersion, "plan", time.Now().UTC().Format(time.RFC3339Nano), newPlanJSON(cs, fc)})
}

func newPlanJSON(cs plan.ChangeSet, fc *rolloutForecast) planJSON {
	p, shard, changes, pending := cs.Plan, cs.Shard, cs.Changes, cs.Pending
	doc := planJSON{FormatVersion: JSONFormatVersion, Plan: p.Name, File: p.File, Shard: shard.String(),
		Instances: make([]planInstanceJSON, 0, len(changes)), InDoubt: pending, Summary: countChanges(changes),
		Forecast: newForecastJSON(fc)}
	for _, c := range changes {
		in := c.Instance
		doc.Instances = append(doc.Instances, planInstanceJSON{Provider: in.Provider, ID: in.ID, Name: in.Name, SelectedBy: in.SelectedBy,
			Action: c.Action.String(), Reason: c.Reason, State: c.Observed.Raw, FromImage: c.FromImage, ToImage: in.Image, StopFirst: c.StopFirst, Broken: c.Broken})
	}
	if p.Narrowing != nil {
		doc.Target, doc.Exclude = p.Narrowing.Include, p.Narrowing.Exclude
	}
	mutating := mutatingChanges(changes)
	_, doc.Waves = p.WaveOrder(mutating)
	if doc.Waves == nil {
		doc.Waves = []int{}
	}
	doc.Canaries = []string{}
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
