package main

import (
	"context"
	"errors"
	"fmt"
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
FILE:LINE:COL: PATH: message on stderr and exits 1 otherwise.

Examples:
  reimage validate examples/mixed-fleet.yaml
  reimage validate examples/*.yaml`, stdio)
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef(c.Name(), "missing PLAN argument")
	}
	failed := false
	for _, file := range fs.Args() {
		p, err := plan.Load(file)
		if err != nil {
			failed = true
			var diags *plan.Diagnostics
			if errors.As(err, &diags) {
				fmt.Fprintln(stdio.Err, diags.Error())
			} else {
				fmt.Fprintf(stdio.Err, "%s: %v\n", file, err)
			}
			continue
		}
		fmt.Fprintf(stdio.Out, "%s: valid: plan %q, %s\n", file, p.Name, summary(p))
	}
	if failed {
		return WithExitCode(ExitFailure, nil)
	}
	return nil
}

// summary renders "67 instances (ecs-n4: 25, kec-bj: 42)".
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
	s := fmt.Sprintf("%d %s (%s)", len(p.Instances), noun, strings.Join(parts, ", "))
	if n := len(p.Selectors); n > 0 {
		// Selected instances are known only once plan asks the clouds.
		s += fmt.Sprintf(" and %d selectors, resolved by plan", n)
	}
	return s
}
