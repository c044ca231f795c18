package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reimage-dev/reimage/plan"
)

// ValidateCommand checks plans offline: schema and semantic checks, no network, no secrets.
type ValidateCommand struct{}

// Name implements Command.
func (ValidateCommand) Name() string { return "validate" }

// Synopsis implements Command.
func (ValidateCommand) Synopsis() string { return "check plans offline (no network, no secrets)" }

// Run implements Command.
func (c ValidateCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet(c.Name(), "validate PLAN...", `
Checks each plan against the plan schema and the semantic rules, without network access and
without reading secrets. Prints one summary line per valid plan; prints every problem as
FILE:LINE:COL: PATH: message on stderr and exits 1 otherwise. With -json, prints one JSON
document on stdout instead (for editors and CI), with the same exit status.

Examples:
  reimage validate examples/mixed-fleet.yaml
  reimage validate examples/*.yaml
  reimage validate -json examples/*.yaml`, stdio)
	asJSON := fs.Bool("json", false, "print one JSON document (format_version 1) with every plan's result and problems, on stdout")
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef(c.Name(), "missing PLAN argument")
	}
	doc := validateDoc{FormatVersion: "1", Valid: true, Plans: []validatePlanJSON{}}
	files := fs.Args()
	plans := make([]*plan.Plan, len(files))
	errs := make([]error, len(files))
	for i, file := range files {
		plans[i], errs[i] = plan.Load(file)
	}
	// Plans that each load may still fight over an instance if they are run
	// together: a warning, since plans validated together need not be run
	// together (examples, alternatives).
	warnings := instancesInTwoPlans(plans)
	for i, file := range files {
		res := validatePlanJSON{File: file, Diagnostics: []diagnosticJSON{}}
		p, err := plans[i], errs[i]
		if err != nil {
			doc.Valid = false
			var diags *plan.Diagnostics
			if errors.As(err, &diags) {
				for _, d := range diags.List {
					res.Diagnostics = append(res.Diagnostics, diagnosticJSON{File: d.File, Line: d.Line, Col: d.Col, Path: d.Path, Message: d.Message})
				}
			} else {
				res.Diagnostics = append(res.Diagnostics, diagnosticJSON{File: file, Message: err.Error()})
			}
			if !*asJSON {
				if diags != nil {
					fmt.Fprintln(stdio.Err, diags.Error())
				} else {
					fmt.Fprintf(stdio.Err, "%s: %v\n", file, err)
				}
			}
			doc.Plans = append(doc.Plans, res)
			continue
		}
		n, byProvider, selectors := len(p.Instances), p.Summary(), len(p.Selectors)
		res.Valid, res.Plan, res.Instances, res.ByProvider, res.Selectors = true, p.Name, &n, &byProvider, &selectors
		for _, w := range warnings[i] {
			res.Warnings = append(res.Warnings, diagnosticJSON{File: w.File, Line: w.Line, Col: w.Col, Path: w.Path, Message: w.Message})
		}
		doc.Plans = append(doc.Plans, res)
		if !*asJSON {
			fmt.Fprintf(stdio.Out, "%s: valid: plan %q, %s\n", file, p.Name, summary(p))
			for _, w := range warnings[i] {
				w.Message = "warning: " + w.Message
				fmt.Fprintln(stdio.Err, w.String())
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	}
	if !doc.Valid {
		return WithExitCode(ExitFailure, nil)
	}
	return nil
}

// validateDoc is validate -json's document. Fields may be added within format
// version 1, none removed or changed.
type validateDoc struct {
	FormatVersion string             `json:"format_version"`
	Valid         bool               `json:"valid"`
	Plans         []validatePlanJSON `json:"plans"`
}

// validatePlanJSON is one file's result.
type validatePlanJSON struct {
	File  string `json:"file"`
	Valid bool   `json:"valid"`
	Plan  string `json:"plan,omitempty"`
	// Instances, ByProvider and Selectors are set on a valid plan, even when
	// 0 or empty (a plan of selectors only lists no instance).
	Instances   *int             `json:"instances,omitempty"`
	ByProvider  *map[string]int  `json:"by_provider,omitempty"`
	Selectors   *int             `json:"selectors,omitempty"`
	Diagnostics []diagnosticJSON `json:"diagnostics"`
	// Warnings do not make the plan invalid: instances another plan given
	// with it also changes.
	Warnings []diagnosticJSON `json:"warnings,omitempty"`
}

// diagnosticJSON is one problem, located as in the text form (line and col
// are 0 for a problem with the file as a whole).
type diagnosticJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// summary renders "67 instances (east: 25, west: 42)".
func summary(p *plan.Plan) string {
	counts := p.Summary()
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s: %d", name, counts[name])
	}
	noun := "instances"
	if len(p.Instances) == 1 {
		noun = "instance"
	}
	s := fmt.Sprintf("%d %s", len(p.Instances), noun)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if n := len(p.Selectors); n > 0 {
		// Selected instances are known only once plan asks the clouds.
		noun := "selectors"
		if n == 1 {
			noun = "selector"
		}
		s += fmt.Sprintf(" and %d %s, resolved by plan", n, noun)
	}
	return s
}

// instancesInTwoPlans finds the servers that two of the plans (each valid on
// its own) would both change: each plan has its own journal, lock and target,
// so if both are run, every run of one re-images what the other just did. A
// server is its cloud type and id, whatever the provider entry is called. The
// result has one entry per plan: the warnings of the later plan of each pair.
// Protected instances change nothing and are not counted; a file given twice
// is one plan.
func instancesInTwoPlans(plans []*plan.Plan) [][]plan.Diagnostic {
	type entry struct {
		p  *plan.Plan
		in *plan.Instance
	}
	first := map[string]entry{}
	out := make([][]plan.Diagnostic, len(plans))
	seenFile := map[string]bool{}
	for i, p := range plans {
		if p == nil {
			continue
		}
		abs, err := filepath.Abs(p.File)
		if err != nil {
			abs = p.File
		}
		if seenFile[abs] {
			continue
		}
		seenFile[abs] = true
		for j, in := range p.Instances {
			prov := p.Providers[in.Provider]
			if in.Protect || in.SelectedBy != "" || prov == nil {
				continue
			}
			key := prov.Type + "/" + in.ID
			other, ok := first[key]
			if !ok {
				first[key] = entry{p, in}
				continue
			}
			out[i] = append(out[i], plan.Diagnostic{File: p.File, Line: in.Line, Col: in.Col, Path: fmt.Sprintf("instances[%d]", j),
				Message: fmt.Sprintf("instance %s (%s) is also in plan %q (%s:%d:%d): run both and each re-images it in turn, undoing the other; keep it in one (or protect: true in the other)",
					in.ID, prov.Type, other.p.Name, other.p.File, other.in.Line, other.in.Col)})
		}
	}
	return out
}
