package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
)

// AckCommand records that a person checked instances by hand.
type AckCommand struct{}

// Name implements Command.
func (AckCommand) Name() string { return "ack" }

// Synopsis implements Command.
func (AckCommand) Synopsis() string {
	return `acknowledge instances checked by hand: clear "reinstall in doubt" and "broken"`
}

// Run implements Command.
func (c AckCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	var (
		ff    fleetFlags
		state string
	)
	fs := newFlagSet(c.Name(), "ack PLAN ID|NAME... [flags]", `
A reinstall whose outcome could not be proven is never submitted again: the instance stays
blocked ("reinstall in doubt"); an instance reimage's change left in an error state, or
stopped, is "broken" and keeps every run from converging. Once you have checked such an
instance by hand, acknowledge it: the journal records who and when, a reinstall in doubt
counts as done (its token is never carried out again: to reinstall, set a new token), and
the instance is recorded done on the instance's own markers where the cloud keeps them.
Use the same -state and -shard as apply.

Examples:
  reimage ack fleet.yaml web-07                       # by name
  reimage ack fleet.yaml i-0a1b2c3d e0a4c9d2-7b1f-4e35-9a6c-2d8f0b3e5ab1
  reimage ack fleet.yaml web-07 -state /var/lib/reimage -shard 1/4`, stdio)
	ff.register(fs)
	fs.StringVar(&state, "state", "", "state `DIR` with the journal and lock, as given to apply (default .reimage beside the plan; .reimage-sim with -sim-url)")
	var lf logFlags
	lf.register(fs, "warn")
	// Flags may come before, between or after the arguments.
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	var pos []string
	for fs.NArg() > 0 {
		pos = append(pos, fs.Arg(0))
		if err := parseFlags(fs, fs.Args()[1:], stdio); err != nil {
			return err
		}
	}
	if len(pos) < 2 {
		return usagef(c.Name(), "want a plan and at least one instance id or name")
	}
	path, names := pos[0], pos[1:]
	logger, err := lf.logger(c.Name(), stdio.Err)
	if err != nil {
		return err
	}
	f, err := openFleet(&ff, path, nil, logger)
	if err != nil {
		return err
	}
	defer f.Close()
	// Selected instances, -target and the shard are known once resolved.
	if err := f.Resolve(ctx); err != nil {
		return operationExit(err)
	}
	instances, err := pickInstances(f.Plan, f.Shard, names)
	if err != nil {
		return err
	}
	lockPath, journalPath, err := f.stateFiles(state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	host, _ := os.Hostname()
	lock, err := executor.AcquireLock(lockPath, executor.Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Plan: f.Plan.Name})
	if err != nil {
		return err
	}
	defer lock.Release()
	j, err := executor.OpenJournal(journalPath, nil)
	if err != nil {
		return err
	}
	defer j.Close()
	// What an earlier run left in another journal of the state directory
	// (another shard count, or the plan's old name) is acknowledged here too.
	if err := f.adoptOtherJournals(ctx, j, logger); err != nil {
		return err
	}
	acked, err := executor.Ack(ctx, j, f.Providers, instances, operator(host))
	for _, a := range acked {
		label := a.Instance.ID
		if a.Instance.Name != "" {
			label += " (" + a.Instance.Name + ")"
		}
		fmt.Fprintf(stdio.Out, "%s: acknowledged: %s\n", label, strings.Join(a.Cleared, "; "))
	}
	return err
}

// pickInstances finds each id or name in the plan's instances (of this shard),
// and names every one it cannot find, and every one that names more than one
// instance (two instances may share a name, even an id on two clouds): a
// person acknowledges the instance they checked, never a namesake.
func pickInstances(p *plan.Plan, shard plan.Shard, names []string) ([]*plan.Instance, error) {
	var out []*plan.Instance
	var unknown, ambiguous []string
	seen := map[*plan.Instance]bool{}
	for _, n := range names {
		var found []*plan.Instance
		for _, in := range p.Instances {
			if in.ID == n {
				found = append(found, in)
			}
		}
		if len(found) == 0 {
			for _, in := range p.Instances {
				if in.Name == n {
					found = append(found, in)
				}
			}
		}
		switch {
		case len(found) == 0:
			unknown = append(unknown, n)
		case len(found) > 1:
			which := make([]string, len(found))
			for i, in := range found {
				which[i] = in.Provider + " " + in.ID
			}
			ambiguous = append(ambiguous, fmt.Sprintf("%q is %d instances (%s)", n, len(found), strings.Join(which, ", ")))
		case !seen[found[0]]:
			seen[found[0]] = true
			out = append(out, found[0])
		}
	}
	where := "plan " + p.Name
	if shard.Count > 1 {
		where += ", shard " + shard.String()
	}
	var errs []string
	if len(unknown) > 0 {
		errs = append(errs, fmt.Sprintf("no instance with id or name %s in %s", strings.Join(quoteAll(unknown), ", "), where))
	}
	if len(ambiguous) > 0 {
		errs = append(errs, fmt.Sprintf("%s in %s: give the id", strings.Join(ambiguous, "; "), where))
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; ") + ": nothing was acknowledged")
	}
	return out, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// operator names who acknowledges, for the journal: user@host.
func operator(host string) string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return name + "@" + host
}
