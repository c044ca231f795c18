package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/reimage-dev/reimage/executor"
)

// ApplyCommand converges the fleet.
type ApplyCommand struct{}

// Name implements Command.
func (ApplyCommand) Name() string { return "apply" }

// Synopsis implements Command.
func (ApplyCommand) Synopsis() string {
	return "re-image the instances that differ from the plan, in waves"
}

// applyFlags are apply's own flags.
type applyFlags struct {
	fleetFlags
	autoApprove bool
	jsonOut     bool
	state       string
	logFormat   string
}

// Run implements Command.
func (c ApplyCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	var af applyFlags
	fs := newFlagSet(c.Name(), "apply PLAN|SAVEDPLAN [flags]", `
Looks up every instance, shows the plan, asks for "yes" (unless -auto-approve), then re-images
the instances that differ from the plan in waves: at most rollout.concurrency at once, each
stopped if it runs, changed, followed until the cloud reports it done, and started again.
Every non-idempotent call is journaled (fsynced) in the state directory before it is made;
a rerun after a crash resolves what was in doubt by asking the cloud, never by submitting
again blind. A second apply of the same plan while one runs fails at once.

Exit status: 0 converged; 1 error before any change (bad plan, credentials, lock held, stale
saved plan); 3 ran but did not converge (failures, halted by maxFailures, interrupted).
SIGINT/SIGTERM: no new instance starts and those in flight are followed to their end; a
second signal stops waiting (they stay in the journal, in doubt, for the next run).

Examples:
  reimage apply examples/mixed-fleet.yaml -sim -auto-approve   # rehearse on the simulator
  reimage apply fleet.yaml                                      # asks for yes on a terminal
  reimage apply fleet.plan -auto-approve                        # a plan saved by plan -out
  reimage apply fleet.yaml -auto-approve -shard 0/4 -state /var/lib/reimage`, stdio)
	af.register(fs)
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "do not ask for confirmation (required without a terminal, e.g. from cron)")
	fs.BoolVar(&af.jsonOut, "json", false, "print line-delimited JSON events (format_version 1) instead of text")
	fs.StringVar(&af.state, "state", "", "state `DIR` for the journal and lock (default .reimage beside the plan)")
	fs.StringVar(&af.logFormat, "log-format", "text", "log format on stderr: text or json")
	path, err := parseOne(fs, args, stdio, "PLAN")
	if err != nil {
		return err
	}
	if af.logFormat != "text" && af.logFormat != "json" {
		return usagef(c.Name(), "-log-format: want text or json, not %q", af.logFormat)
	}
	logger := newLogger(stdio.Err, af.logFormat, slog.LevelInfo)
	reg := prometheus.NewRegistry()

	// Signals: the first stops new starts (drain), the second stops waiting.
	workCtx, cancelWork := context.WithCancel(ctx)
	defer cancelWork()
	drain := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	applying := make(chan struct{})
	stopSignals := make(chan struct{})
	defer close(stopSignals)
	go func() {
		select {
		case sig := <-sigs:
			close(drain)
			select {
			case <-applying:
				logger.Warn("received " + sig.String() + ": no new instance starts; waiting for those in flight (send it again to stop waiting)")
			default:
				cancelWork() // nothing changed yet: stop at once
			}
		case <-stopSignals:
			return
		}
		select {
		case sig := <-sigs:
			logger.Warn("received " + sig.String() + " again: no longer waiting; instances in flight stay in the journal as in doubt")
			cancelWork()
		case <-stopSignals:
		}
	}()

	f, err := openFleet(workCtx, &af.fleetFlags, path, reg, logger)
	if err != nil {
		return err
	}
	defer f.Close()

	lockPath, journalPath := stateFiles(af.state, f.plan, f.shard)
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	host, _ := os.Hostname()
	lock, err := executor.AcquireLock(lockPath, executor.Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Plan: f.plan.Name})
	if err != nil {
		return err
	}
	defer lock.Release()
	journal, err := executor.OpenJournal(journalPath, nil)
	if err != nil {
		return err
	}
	defer journal.Close()

	changes, err := f.lookupAndDiff(workCtx, journal.DoneToken)
	if err != nil {
		return err
	}
	pending := countPending(journal, f.plan)
	var out io.Writer = stdio.Out
	if af.jsonOut {
		out = stdio.Err // the plan goes to stderr so that stdout is only JSON lines
		if err := renderPlanJSON(io.Discard, f.plan, f.shard, changes, pending); err != nil {
			return err
		}
	} else {
		renderPlan(out, f.plan, f.shard, changes, pending)
	}
	counts := countChanges(changes)
	runID := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405Z"), os.Getpid())
	var obs executor.Observer = &textView{w: stdio.Out}
	if af.jsonOut {
		obs = newJSONView(stdio.Out)
	}
	ex := executor.New(executor.Options{
		Plan: f.plan, Providers: f.providers, Journal: journal, Observer: obs, RunID: runID,
		PollInterval: f.poll, Drain: drain, Secret: f.secretResolver(logger),
	})
	if err := ex.ResolveSecrets(changes); err != nil {
		return err
	}
	if counts.mutating() > 0 || pending > 0 {
		if !af.autoApprove {
			if err := confirm(stdio, out); err != nil {
				return err
			}
		}
	}
	select {
	case <-drain:
		return errors.New("interrupted before any change")
	default:
	}
	close(applying)

	if pending > 0 {
		if err := ex.Resolve(workCtx); err != nil {
			return WithExitCode(ExitNotConverged, err)
		}
		// What was resolved may have changed the fleet: look again.
		if changes, err = f.lookupAndDiff(workCtx, journal.DoneToken); err != nil {
			return WithExitCode(ExitNotConverged, err)
		}
	}
	sum, err := ex.Apply(workCtx, changes)
	if err != nil {
		return WithExitCode(ExitNotConverged, err)
	}
	if !sum.Converged() {
		return WithExitCode(ExitNotConverged, nil)
	}
	return nil
}

// confirm asks for "yes" on a terminal; without one it refuses, since nobody
// could have reviewed the plan.
func confirm(stdio Stdio, out io.Writer) error {
	f, ok := stdio.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("no terminal to confirm on: review the plan, then run again with -auto-approve (or apply a saved plan with -auto-approve)")
	}
	fmt.Fprint(out, "\nDo you want to re-image these instances? Their system disks will be wiped.\n  Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(stdio.In).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("no answer: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return errors.New("apply cancelled: nothing was changed")
	}
	return nil
}
