package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/reimage-dev/reimage/executor/operation"
)

// PlanCommand shows what apply would do, without changing anything.
type PlanCommand struct{}

// Name implements Command.
func (PlanCommand) Name() string { return "plan" }

// Synopsis implements Command.
func (PlanCommand) Synopsis() string {
	return "show what apply would change (reads the clouds, changes nothing)"
}

// Run implements Command.
func (c PlanCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	var (
		ff       fleetFlags
		jsonOut  bool
		out      string
		detailed bool
		state    string
	)
	fs := newFlagSet(c.Name(), "plan PLAN [flags]", `
Looks up every instance of the plan (in batch calls) and prints what apply would do to each:
change, reinstall, ok, protected, or blocked with the reason, and the waves the changes fall
into. Nothing is changed.

Examples:
  reimage plan examples/mixed-fleet.yaml -sim
  reimage plan fleet.yaml -out fleet.plan      # then: reimage apply fleet.plan
  reimage plan fleet.yaml -detailed-exitcode   # exit 0: no changes, 2: changes, 1: error`, stdio)
	ff.register(fs)
	fs.BoolVar(&jsonOut, "json", false, "print a JSON document (format_version 1) instead of text")
	fs.StringVar(&out, "out", "", "save the plan to `FILE` (mode 0600) for reimage apply FILE")
	fs.BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when none")
	fs.StringVar(&state, "state", "", "state `DIR` with the journal (default .reimage beside the plan; .reimage-sim with -sim-url)")
	var lf logFlags
	lf.register(fs, "warn")
	path, err := parseOne(fs, args, stdio, "PLAN")
	if err != nil {
		return err
	}
	logger, err := lf.logger(c.Name(), stdio.Err)
	if err != nil {
		return err
	}
	f, err := openFleet(&ff, path, nil, logger)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Saved != nil {
		return usagef(c.Name(), "%s is a saved plan; apply it with reimage apply %s", path, path)
	}
	_, journalPath, err := f.stateFiles(state)
	if err != nil {
		return err
	}
	cs, err := operation.Review(ctx, f.Fleet, journalPath)
	if err != nil {
		return operationExit(err)
	}
	fc := f.forecaster(cs.Plan, journalPath, logger).forecast(cs.Changes)
	if jsonOut {
		if err := renderPlanJSON(stdio.Out, cs, fc); err != nil {
			return err
		}
	} else {
		renderPlan(stdio.Out, cs, fc)
	}
	if out != "" {
		if err := f.Save(cs, time.Now()).Write(out); err != nil {
			return err
		}
		if !jsonOut {
			fmt.Fprintf(stdio.Out, "\nSaved the plan to %s. To apply exactly these changes: reimage apply %s\n", out, out)
		}
	}
	if detailed && (!cs.Empty() || len(cs.Broken()) > 0) {
		return WithExitCode(ExitChanges, nil)
	}
	return nil
}

// parseOne parses flags placed before or after the one positional argument,
// as operators type them: reimage plan fleet.yaml -json.
func parseOne(fs *flag.FlagSet, args []string, stdio Stdio, what string) (string, error) {
	if err := parseFlags(fs, args, stdio); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", usagef(fs.Name(), "missing %s argument", what)
	}
	path := fs.Arg(0)
	if rest := fs.Args()[1:]; len(rest) > 0 {
		if err := parseFlags(fs, rest, stdio); err != nil {
			return "", err
		}
		if fs.NArg() > 0 {
			return "", usagef(fs.Name(), "unexpected argument %q: one %s at a time", fs.Arg(0), what)
		}
	}
	return path, nil
}
