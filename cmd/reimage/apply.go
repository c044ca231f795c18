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
	autoApprove      bool
	jsonOut          bool
	state            string
	logFormat        string
	logLevel         string
	metrics          metricsFlags
	progress         string
	progressInterval time.Duration
	settle           time.Duration
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
	fs.StringVar(&af.state, "state", "", "state `DIR` for the journal and lock (default .reimage beside the plan; .reimage-sim with -sim-url; a temporary one with -sim)")
	fs.StringVar(&af.logFormat, "log-format", "text", "log format on stderr: text or json (one record per instance event, with provider, id and name)")
	fs.StringVar(&af.logLevel, "log-level", "info", "least severe log level shown: debug, info, warn or error")
	fs.StringVar(&af.progress, "progress", progressAuto, "live progress display: auto (on a terminal), always or never; without it, a progress log line every -progress-interval")
	fs.DurationVar(&af.progressInterval, "progress-interval", defaultProgressInterval, "without a live display, how often to log the run's progress (0: never)")
	fs.DurationVar(&af.settle, "settle", executor.DefaultSettle, "how long a change whose answer was lost is watched for signs that the cloud took it before it is submitted again")
	af.metrics.register(fs)
	path, err := parseOne(fs, args, stdio, "PLAN")
	if err != nil {
		return err
	}
	if af.logFormat != "text" && af.logFormat != "json" {
		return usagef(c.Name(), "-log-format: want text or json, not %q", af.logFormat)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(af.logLevel)); err != nil {
		return usagef(c.Name(), "-log-level: want debug, info, warn or error, not %q", af.logLevel)
	}
	if af.progress != progressAuto && af.progress != progressAlways && af.progress != progressNever {
		return usagef(c.Name(), "-progress: want auto, always or never, not %q", af.progress)
	}
	// stdout and stderr go through the live display while it runs, so that its
	// redraws never split a line (progress.go).
	outW := &routedWriter{raw: stdio.Out}
	errW := &routedWriter{raw: stdio.Err}
	logger := newLogger(errW, af.logFormat, level)
	reg := prometheus.NewRegistry()

	// Signals: the first stops new starts (drain), the second stops waiting.
	workCtx, cancelWork := context.WithCancel(ctx)
	defer cancelWork()
	drain := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	// SIGHUP too: an ssh session that drops must drain like Ctrl-C, not kill
	// the run between a call and its journal record.
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
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

	f, err := openFleet(&af.fleetFlags, path, reg, logger)
	if err != nil {
		return err
	}
	// Closing the fleet waits for its batch calls in flight; the lock is
	// released only after that (below), so that the next run cannot start
	// while a stop or start of this one is still on its way to the cloud.
	fleetOpen := true
	defer func() {
		if fleetOpen {
			f.Close()
		}
	}()
	metrics := newRunMetrics(af.metrics, reg, f, logger)
	// Deferred before the lock's release, so it runs after it: the next run
	// need not wait for the linger.
	defer metrics.close(drain)

	lockPath, journalPath, err := f.stateFiles(af.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	host, _ := os.Hostname()
	lock, err := executor.AcquireLock(lockPath, executor.Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Plan: f.plan.Name})
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		fleetOpen = false
		lock.Release()
	}()
	// The outputs start once the lock is held: a run refused for a lock held
	// must not push over the group of the run that holds it.
	metrics.start()
	err = c.applyLocked(workCtx, &af, stdio, f, journalPath, logger, metrics, outW, errW, drain, applying)
	metrics.finish(err)
	return err
}

// applyLocked is apply once the lock is held: look-up, confirmation, the run.
func (c ApplyCommand) applyLocked(workCtx context.Context, af *applyFlags, stdio Stdio, f *fleet, journalPath string,
	logger *slog.Logger, metrics *runMetrics, outW, errW *routedWriter, drain, applying chan struct{}) error {
	journal, err := executor.OpenJournal(journalPath, nil)
	if err != nil {
		return err
	}
	defer journal.Close()
	if err := f.adoptOtherJournals(journal, journalPath, logger); err != nil {
		return err
	}

	changes, err := f.lookupAndDiff(workCtx, journal)
	if err != nil {
		return err
	}
	pre, err := f.preflight(workCtx, changes, logger)
	if err != nil {
		return err
	}
	pending := countPending(journal, f.plan)
	fcr := f.forecaster(journalPath, logger)
	defer fcr.save(logger) // at the end, and after an interrupt: what this run observed
	fc := fcr.forecast(changes)
	var out io.Writer = outW
	if af.jsonOut {
		// stdout carries only JSON lines: the plan is their first event, and
		// the confirmation prompt (if any) goes to stderr.
		out = stdio.Err
		if err := writePlanEvent(stdio.Out, f.plan, f.shard, changes, pending, fc); err != nil {
			return err
		}
	} else {
		renderPlan(out, f.plan, f.shard, changes, pending, fc)
	}
	if err := refuseBadImages(pre); err != nil {
		return err
	}
	counts := countChanges(changes)
	runID := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405Z"), os.Getpid())
	var view executor.Observer = &textView{w: outW, fc: forecastTally{forecast: fc.total()}}
	if af.jsonOut {
		view = newJSONView(stdio.Out, fc.total())
	}
	metrics.forecast(fc.total())
	prog := newRunProgress(nil)
	prog.useModel(fcr.etaModel(changes))
	var display *liveDisplay
	obs := executor.Observers{fcr.rec, metrics, prog, newLogView(logger, af.logFormat == "json"), view,
		// The display starts after the confirmation, before the first event.
		executor.ObserverFunc(func(e executor.Event) {
			if display != nil {
				display.Observe(e)
			}
		})}
	ex := executor.New(executor.Options{
		Plan: f.plan, Providers: f.providers, Journal: journal, Observer: obs, RunID: runID,
		PollInterval: f.poll, Drain: drain, Secret: f.secretResolver(logger), Settle: af.settle,
	})
	if err := ex.ResolveSecrets(changes); err != nil {
		return err
	}
	if counts.mutating() > 0 || pending > 0 {
		if !af.autoApprove {
			if err := confirm(workCtx, stdio, out, counts.question()); err != nil {
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

	live := !af.jsonOut && (af.progress == progressAlways || af.progress == progressAuto && liveCapable(stdio.Out))
	if live {
		routes := []*routedWriter{outW}
		if isTerminal(stdio.Err) {
			// Logs share the terminal: they go above the display too.
			routes = append(routes, errW)
		}
		display = startLive(stdio.Out, prog, routes)
		defer display.stop()
	} else {
		defer logProgress(logger, prog, af.progressInterval)()
	}

	if pending > 0 {
		if err := ex.Resolve(workCtx); err != nil {
			return WithExitCode(ExitNotConverged, err)
		}
		// What was resolved may have changed the fleet: look again.
		if changes, err = f.relook(workCtx, journal); err != nil {
			return WithExitCode(ExitNotConverged, err)
		}
		if _, err := f.preflight(workCtx, changes, logger); err != nil {
			return WithExitCode(ExitNotConverged, err)
		}
	}
	sum, err := ex.Apply(workCtx, changes)
	if err != nil {
		return WithExitCode(ExitNotConverged, err)
	}
	if !sum.Converged() && !sum.OnlyOutsideWindow() {
		return WithExitCode(ExitNotConverged, nil)
	}
	return nil
}

// confirm asks for "yes" on a terminal; without one it refuses, since nobody
// could have reviewed the plan.
func confirm(ctx context.Context, stdio Stdio, out io.Writer, question string) error {
	f, ok := stdio.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("no terminal to confirm on: review the plan, then run again with -auto-approve (or apply a saved plan with -auto-approve)")
	}
	fmt.Fprint(out, "\n"+question+"\n  Only 'yes' will be accepted: ")
	return readAnswer(ctx, f)
}

// errCancelledAtPrompt is the answer to a signal at the prompt.
var errCancelledAtPrompt = errors.New("apply cancelled at the prompt: nothing was changed")

// readAnswer reads the answer to the prompt from in; ctx ending (a signal)
// cancels it at once rather than after the next Enter. The read is ended by a
// read deadline where in supports one (pipes, pollable terminals); where it
// does not (a blocking terminal), the reading goroutine ends with the process,
// which exits right after a cancelled prompt.
func readAnswer(ctx context.Context, in *os.File) error {
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		got <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		if in.SetReadDeadline(time.Now()) == nil {
			<-got
		}
		return errCancelledAtPrompt
	}
	if a.err != nil && a.line == "" {
		return fmt.Errorf("no answer: %w", a.err)
	}
	if strings.TrimSpace(a.line) != "yes" {
		return errors.New("apply cancelled: nothing was changed")
	}
	return nil
}
