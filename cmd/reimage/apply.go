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
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/executor/operation"
	"github.com/reimage-dev/reimage/plan"
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
	// Closing the fleet waits for its batch calls in flight: the operation
	// does it before it releases the lock (Quiesce), so that the next run
	// cannot start while a stop or start of this one is still on its way to
	// the cloud; this is for the errors before the lock.
	defer f.Close()
	metrics := newRunMetrics(af.metrics, reg, f, logger)
	// Deferred before the operation's return releases the lock, so it runs
	// after it: the next run need not wait for the linger.
	defer metrics.close(drain)

	lockPath, journalPath, err := f.stateFiles(af.state)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	now := time.Now()
	view := &applyView{
		metrics: metrics, prog: newRunProgress(nil), logger: logger, af: &af, stdio: stdio,
		outW: outW, errW: errW, applying: applying,
	}
	view.forecast = &forecastRun{fleet: f, journalPath: journalPath, logger: logger, metrics: metrics, prog: view.prog}
	view.events = executor.Observers{view.forecast, metrics, view.prog, newLogView(logger, af.logFormat == "json"), view.runView(),
		// The display starts after the confirmation, before the first event.
		executor.ObserverFunc(func(e executor.Event) {
			if d := view.display; d != nil {
				d.Observe(e)
			}
		})}
	_, err = operation.Apply(workCtx, f.Fleet, operation.ApplyOptions{
		LockPath: lockPath, JournalPath: journalPath,
		Holder: executor.Holder{PID: os.Getpid(), Host: host, Started: now.UTC(), Plan: f.Plan.Name},
		Adopt: func(j *executor.Journal) error {
			return f.adoptOtherJournals(workCtx, j, logger)
		},
		RunID:        fmt.Sprintf("%s-%d", now.UTC().Format("20060102T150405Z"), os.Getpid()),
		PollInterval: f.poll, Settle: af.settle, Drain: drain, WaitEstimate: view.forecast.waitEstimate,
		AutoApprove: af.autoApprove,
		Confirm: func(ctx context.Context, cs plan.ChangeSet) error {
			return confirm(ctx, stdio, view.promptOut(), countChanges(cs.Changes).question())
		},
		Quiesce: f.Close,
	}, view)
	return operationExit(err)
}

// operationExit maps an operation's error to the exit status: 3 once apply's
// run began (something may have changed); a -target or -exclude the plan
// cannot satisfy is a usage error; anything else came before any change (1).
func operationExit(err error) error {
	var nc *operation.NotConvergedError
	var ne *operation.NarrowingError
	switch {
	case errors.As(err, &nc):
		return WithExitCode(ExitNotConverged, nc.Err)
	case errors.As(err, &ne):
		return usagef("", "%v", ne.Err)
	}
	return err
}

// applyView is apply's view: the plan's review, the confirmation's prompt,
// the run's events (text or JSON, chosen once), logs, metrics and progress.
type applyView struct {
	metrics *runMetrics
	prog    *runProgress
	logger  *slog.Logger
	af      *applyFlags
	stdio   Stdio
	// outW and errW route stdout and stderr through the live display while it
	// runs, so that its redraws never split a line (progress.go).
	outW, errW *routedWriter
	applying   chan struct{}
	events     executor.Observers
	// display is the live display, set once the run begins.
	display *liveDisplay
	// forecast is the run's forecast (forecast.go).
	forecast *forecastRun
}

// runView is the run's events in the form asked for.
func (v *applyView) runView() executor.Observer {
	if v.af.jsonOut {
		return newJSONView(v.stdio.Out, &v.forecast.tally)
	}
	return &textView{w: v.outW, fc: &v.forecast.tally}
}

// promptOut is where the review and the prompt go: with -json, stdout
// carries only JSON lines, so they go to stderr.
func (v *applyView) promptOut() io.Writer {
	if v.af.jsonOut {
		return v.stdio.Err
	}
	return v.outW
}

// Observe implements executor.Observer.
func (v *applyView) Observe(e executor.Event) { v.events.Observe(e) }

// Locked implements operation.ApplyView: the metrics outputs start once the
// lock is held, since a run refused for a lock held must not push over the
// group of the run that holds it.
func (v *applyView) Locked() { v.metrics.start() }

// Review implements operation.ApplyView: with -json the plan is the first
// event on stdout.
func (v *applyView) Review(cs plan.ChangeSet) error {
	fc := v.forecast.review(cs)
	if v.af.jsonOut {
		return writePlanEvent(v.stdio.Out, cs, fc)
	}
	renderPlan(v.outW, cs, fc)
	return nil
}

// Running implements operation.ApplyView: from now on a signal drains rather
// than stops, and the live display (or the progress log) starts.
func (v *applyView) Running() func() {
	close(v.applying)
	af, stdio := v.af, v.stdio
	live := !af.jsonOut && (af.progress == progressAlways || af.progress == progressAuto && liveCapable(stdio.Out))
	if !live {
		return logProgress(v.logger, v.prog, af.progressInterval)
	}
	routes := []*routedWriter{v.outW}
	if isTerminal(stdio.Err) {
		// Logs share the terminal: they go above the display too.
		routes = append(routes, v.errW)
	}
	v.display = startLive(stdio.Out, v.prog, routes)
	return v.display.stop
}

// Finished implements operation.ApplyView.
func (v *applyView) Finished(err error) {
	v.forecast.finish()
	v.metrics.finish(err)
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
		return fmt.Errorf("apply cancelled: no answer (%w): nothing was changed", a.err)
	}
	if strings.TrimSpace(a.line) != "yes" {
		return errors.New("apply cancelled: nothing was changed")
	}
	return nil
}
