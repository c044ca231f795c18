package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// DefaultPollInterval is how often instances in flight are polled. All waits
// wake on the same ticks of the wall clock, so the polls of every instance in
// flight fall into the same coalescing window and cost one batch call per 100.
const DefaultPollInterval = 5 * time.Second

// DefaultSettle is the default of Options.Settle.
const DefaultSettle = time.Minute

// maxPowerCalls bounds how often a stop or start whose answer was lost, and
// which the instance does not show, is made again.
const maxPowerCalls = 3

// maxResubmits bounds how often a change whose submission was in doubt, and
// which the cloud then showed had not taken, is submitted again.
const maxResubmits = 3

// Options configure an Executor.
type Options struct {
	Plan *plan.Plan
	// Providers by the plan's provider name.
	Providers map[string]providers.Provider
	Journal   *Journal
	Observer  Observer
	// RunID names this run in the journal.
	RunID string
	// PollInterval between status polls; DefaultPollInterval when zero.
	PollInterval time.Duration
	// Drain, when closed, stops new instances from starting (first SIGINT);
	// instances in flight are followed to their end. Cancelling the context
	// passed to Apply stops following them too (second SIGINT): they stay in
	// the journal as in doubt.
	Drain <-chan struct{}
	// Secret resolves a login password reference; plan.SecretRef.Resolve when nil.
	Secret func(*plan.SecretRef) (string, error)
	// Now is the clock for events; time.Now when nil.
	Now func() time.Time
	// Settle is how long a change whose answer was lost is watched for signs
	// that the cloud took it (busy, or on the target image) before it is called
	// not taken and submitted again; DefaultSettle when zero. A cloud may queue
	// a change for seconds before it shows: too short a window rebuilds twice.
	Settle time.Duration
	// WaitEstimate, when not nil, is how long a provider's wait is expected
	// to take before the run has seen one of its kind end (what earlier runs
	// observed, or the cloud's default; 0: unknown): the poll schedule's
	// first figure (pollsched.go).
	WaitEstimate func(provider string, w Wait) time.Duration
}

// Executor applies one plan's changes.
type Executor struct {
	opts         Options
	obs          Observer
	now          func() time.Time
	poll         time.Duration
	settleWindow time.Duration
	// record appends to the journal (Journal.Append); a test may wrap it.
	record func(Record) error
	// planPath is the plan file's absolute path, stamped on every record
	// (Record.Plan): how a renamed plan proves a journal its own.
	planPath string

	passwords map[*plan.SecretRef]string
	polls     pollSchedule
	// resumedRunning: instances an earlier run stopped and left in doubt, whose
	// change did not take; they must be started again after their change.
	resumedRunning map[string]bool

	mu       sync.Mutex
	sum      Summary
	failures int
	budget   int
	halted   bool
	gates    gateState
	// journalErr is the first failed journal write: no intent is written (so
	// no call is made) after it, while calls already made are followed.
	journalErr error
	// lanes: the write backlog of each provider, for starting instances
	// per provider lane (lanes.go).
	lanes *laneState
	// polling counts the instances whose waits are polling (past their
	// first poll): one of them may end at the next tick and free a slot.
	polling atomic.Int64
}

// New returns an Executor for the options given.
func New(opts Options) *Executor {
	e := &Executor{opts: opts, obs: opts.Observer, now: opts.Now, poll: opts.PollInterval, lanes: newLaneState()}
	if e.obs == nil {
		e.obs = ObserverFunc(func(Event) {})
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.poll <= 0 {
		e.poll = DefaultPollInterval
	}
	e.polls = pollSchedule{poll: e.poll, estimate: opts.WaitEstimate}
	e.settleWindow = opts.Settle
	if e.settleWindow <= 0 {
		e.settleWindow = DefaultSettle
	}
	if opts.Journal != nil {
		e.record = opts.Journal.Append
	}
	if opts.Plan != nil {
		e.planPath = PlanPath(opts.Plan)
	}
	return e
}

// ResolveSecrets resolves every login password the changes need and checks the
// password policy, so that a missing or weak secret fails the run before any
// instance is touched. Errors name the instance and the reference, never a value.
func (e *Executor) ResolveSecrets(changes []plan.Change) error {
	resolve := e.opts.Secret
	if resolve == nil {
		resolve = (*plan.SecretRef).Resolve
	}
	e.passwords = map[*plan.SecretRef]string{}
	var errs []error
	for _, c := range changes {
		ref := c.Instance.Login.Password
		if !c.Action.Mutates() || ref == nil {
			continue
		}
		if _, ok := e.passwords[ref]; ok {
			continue
		}
		// The cloud's own policy where its client knows it (a cloud may require
		// characters the generic policy does not, and refuse some it allows).
		check := plan.CheckPassword
		if pc, ok := e.opts.Providers[c.Instance.Provider].(providers.PasswordChecker); ok {
			check = pc.CheckPassword
		}
		pw, err := resolve(ref)
		if err == nil {
			err = check(pw)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %s (%s): login password: %w", c.Instance.ID, c.Instance.Provider, err))
			continue
		}
		e.passwords[ref] = pw
	}
	return errors.Join(errs...)
}

func (e *Executor) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.obs.Observe(ev)
}

func (e *Executor) draining() bool {
	if e.opts.Drain == nil {
		return false
	}
	select {
	case <-e.opts.Drain:
		return true
	default:
		return false
	}
}

// item is one instance the run acts on.
type item struct {
	c *plan.Change
	// wasRunning: the instance ran before reimage touched it (now, or in an
	// earlier run that stopped it and crashed), so it must run afterwards.
	wasRunning bool
	resubmits  int
	// read is its re-read made ahead of its start (ahead.go), if any.
	read atomic.Pointer[recheckRead]
	// started: dispatched in a wave (its change carries the start).
	started atomic.Bool
}

// Apply makes the changes: ok, protected and blocked changes are only counted;
// change and reinstall are cut into waves. It returns the run's summary; the
// error is for failures of the engine itself (the journal cannot be written),
// not of instances. Call ResolveSecrets first.
func (e *Executor) Apply(ctx context.Context, changes []plan.Change) (Summary, error) {
	start := e.now()
	if err := e.settleEarlier(ctx, changes); err != nil {
		return e.sum, err
	}
	var mutating []*plan.Change
	for i := range changes {
		c := &changes[i]
		if c.Action.Mutates() {
			mutating = append(mutating, c)
			continue
		}
		e.sum.Skipped++
		if c.Action == plan.ActionBlocked {
			e.sum.Blocked++
		}
	}
	ordered, sizes := e.opts.Plan.WaveOrder(mutating)
	todo := make([]*item, len(ordered))
	for i, c := range ordered {
		key := plan.Key(c.Instance.Provider, c.Instance.ID)
		todo[i] = &item{c: c, wasRunning: c.StopFirst || e.resumedRunning[key]}
	}
	e.sum.Total = len(todo)
	e.budget = e.opts.Plan.Rollout.MaxFailures.Budget(len(todo))
	planned := e.sum
	rc := newRecap()
	e.obs = Observers{rc, durations{e}, e.obs}
	e.emit(Event{Type: EventRunStart, Waves: len(sizes), Summary: &planned})
	if len(todo) > 0 {
		e.windowOpen(0, len(sizes)) // a run begun outside changes nothing
	}

	next := 0
	for w, size := range sizes {
		if e.stopping(ctx) {
			break
		}
		if (w > 0 || underWay(changes)) && !e.gate(ctx, w+1, len(sizes)) {
			break
		}
		wave := todo[next : next+size]
		next += size
		ws := e.now()
		e.emit(Event{Type: EventWaveStart, Wave: w + 1, Waves: len(sizes), WaveSize: size})
		if err := e.runWave(ctx, wave, w+1, len(sizes)); err != nil {
			break
		}
		e.emit(Event{Type: EventWaveEnd, Wave: w + 1, Waves: len(sizes), Elapsed: e.now().Sub(ws)})
		if e.overBudget() {
			e.halt(w+1, len(sizes))
			break
		}
		if pause := e.opts.Plan.Rollout.Waves[min(w, len(e.opts.Plan.Rollout.Waves)-1)].Pause; pause > 0 && w+1 < len(sizes) {
			e.emit(Event{Type: EventPause, Wave: w + 1, Waves: len(sizes), Pause: pause})
			if !sleep(ctx, pause, e.opts.Drain) {
				break
			}
		}
	}
	// An instance an earlier run stopped was left to its change to start;
	// a change that never started (a signal, the budget, a gate) does not,
	// so it is started here.
	for _, it := range todo {
		key := plan.Key(it.c.Instance.Provider, it.c.Instance.ID)
		if e.resumedRunning[key] && !it.started.Load() && ctx.Err() == nil {
			_ = e.restore(ctx, key)
		}
	}
	e.mu.Lock()
	e.sum.Pending = e.sum.Total - e.sum.Done - e.sum.Failed - e.sum.Interrupted - e.sum.Superseded
	e.sum.Interrupt = e.draining() || ctx.Err() != nil
	sum := e.sum
	journalErr := e.journalErr
	e.mu.Unlock()
	e.emit(Event{Type: EventRecap, Recap: e.withBrokenEarlier(rc.entries(changes, todo, e.notStarted(ctx)), changes)})
	e.emit(Event{Type: EventRunEnd, Elapsed: e.now().Sub(start), Summary: &sum})
	return sum, journalErr
}

func (e *Executor) stopping(ctx context.Context) bool {
	e.mu.Lock()
	stop := e.halted || e.journalErr != nil || e.gates.windowShut
	e.mu.Unlock()
	return stop || ctx.Err() != nil || e.draining()
}

func (e *Executor) overBudget() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failures > e.budget
}

func (e *Executor) halt(wave, waves int) {
	e.mu.Lock()
	already := e.halted
	e.halted = true
	e.sum.Halted = true
	failures, budget := e.failures, e.budget
	e.mu.Unlock()
	if !already {
		e.emit(Event{Type: EventHalt, Wave: wave, Waves: waves,
			Err: fmt.Errorf("%d failed, more than maxFailures allows (%d): no further instance starts", failures, budget)})
	}
}

// sleep waits d; it reports false when ctx is done or stop (which may be
// nil) is closed first.
func sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// runWave runs one wave with at most rollout.concurrency instances in flight.
// Instances not yet started when the run must stop (signal, budget, a failed
// journal write) stay pending. It returns the journal's error, if any.
func (e *Executor) runWave(ctx context.Context, wave []*item, w, waves int) error {
	conc := e.opts.Plan.Rollout.Concurrency
	if conc <= 0 {
		conc = plan.DefaultConcurrency
	}
	slots := make(chan struct{}, conc)
	var wg sync.WaitGroup
	// Instances start from per-provider lanes (lanes.go): one cloud's rate
	// limit never holds the slots another cloud's instances could use.
	ln := newLanes(wave, e.opts.Plan, conc, e.lanes)
	ahead := &readAhead{e: e, lanes: ln, free: func() int { return conc - len(slots) }}
	stopAhead := make(chan struct{})
	ahead.start(ctx, stopAhead)
	defer ahead.wait()
	defer close(stopAhead)
	for !ln.empty() {
		// The slot first, then the checks: waiting for a slot can take as long
		// as an instance does, and a failure, a signal, a journal error or the
		// window closing in that time must stop this start, not the next one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		case <-e.opts.Drain:
		}
		if e.stopping(ctx) {
			break
		}
		it := ln.next(ctx, e.opts.Drain)
		if it == nil || e.stopping(ctx) {
			break
		}
		if e.overBudget() {
			e.halt(w, waves)
			break
		}
		if !e.mayStart(w, waves) {
			break
		}
		e.lanes.dispatched(it)
		it.started.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			start := time.Now()
			defer func() { e.lanes.finished(it, time.Since(start)) }()
			e.runInstance(ctx, it, w, waves)
		}()
	}
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.journalErr
}

// runInstance takes one instance through its steps and records the outcome.
func (e *Executor) runInstance(ctx context.Context, it *item, w, waves int) {
	c := it.c
	in := c.Instance
	prov := e.opts.Providers[in.Provider]
	start := e.now()
	e.emit(Event{Type: EventInstanceStart, Wave: w, Waves: waves, Change: c})
	step := func(s string) {
		e.lanes.step(it, s)
		e.emit(Event{Type: EventInstanceStep, Wave: w, Waves: waves, Change: c, Step: s})
	}
	// Rollout gates (health.go): the before hook may leave the instance untouched.
	err := e.beforeChange(ctx, prov, in, step)
	var token string
	if err == nil {
		token, err = e.converge(ctx, prov, it, step)
	}
	if err == nil {
		var reason string
		if merr := e.markDone(ctx, prov, in.ID, token); merr != nil {
			reason = "done marker not set: " + merr.Error()
		}
		// A failed write stops further intents; this change is done in the
		// cloud all the same, and the next run finds it so.
		_ = e.journal(Record{Event: EventDone, Provider: in.Provider, ID: in.ID, Image: in.Image, Token: token, Reason: reason})
		// The change is done (and its token spent) whatever health says next.
		if err = e.afterChange(ctx, prov, in, providers.Instance{}, step); err == nil {
			e.mu.Lock()
			e.sum.Done++
			e.mu.Unlock()
			e.emit(Event{Type: EventInstanceDone, Wave: w, Waves: waves, Change: c, Elapsed: e.now().Sub(start)})
			return
		}
		_ = e.failChanged(it, w, waves, err, e.now().Sub(start))
		return
	}
	elapsed := e.now().Sub(start)
	var sup *supersededError
	if errors.As(err, &sup) {
		e.mu.Lock()
		e.sum.Superseded++
		e.sum.Skipped++
		if sup.now.Action == plan.ActionBlocked {
			e.sum.Blocked++
		}
		e.mu.Unlock()
		now := sup.now
		e.emit(Event{Type: EventInstanceSkipped, Wave: w, Waves: waves, Change: &now, Elapsed: elapsed})
		return
	}
	var jerr *journalError
	if errors.As(err, &jerr) {
		// No call was made after the failed write; the instance is left to the
		// next run (stopped ones were started again by converge).
		e.journalFailed(jerr)
		return
	}
	if ctx.Err() != nil {
		// Abandoned by a second signal: whatever was submitted stays in the
		// journal as in doubt, for the next run to resolve. It did not fail,
		// and does not count against maxFailures.
		e.mu.Lock()
		e.sum.Interrupted++
		e.mu.Unlock()
		e.emit(Event{Type: EventInstanceInterrupted, Wave: w, Waves: waves, Change: c, Elapsed: elapsed,
			Err: fmt.Errorf("interrupted during %s; the next run resolves it", lastStep(err))})
		return
	}
	// A failed write has stopped further intents (journal); the failure is
	// reported all the same. An instance started again keeps its intent as a
	// stop (recordFailure): a later run that finds it stopped starts it.
	err, _ = e.recordFailure(ctx, prov, it, err)
	e.mu.Lock()
	e.sum.Failed++
	e.failures++
	e.mu.Unlock()
	e.emit(Event{Type: EventInstanceFail, Wave: w, Waves: waves, Change: c, Err: err, Elapsed: elapsed})
}

func (e *Executor) journalFailed(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.journalErr == nil {
		e.journalErr = err
	}
}

func lastStep(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.step
	}
	return "the change"
}

// stepError says in which step an instance failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// notTakenError marks a failure after which the cloud shows that the change
// did not happen: it refused it, an answer was lost and the instance stayed as
// it was, or nothing was submitted.
type notTakenError struct{ err error }

func (e *notTakenError) Error() string { return e.err.Error() }
func (e *notTakenError) Unwrap() error { return e.err }

// untouched is a failure in step after which the change did not happen.
func untouched(step string, err error) error { return &stepError{step, &notTakenError{err}} }

// restoreError is a failure after which reimage tried to start again an
// instance it had stopped, since the change did not happen.
type restoreError struct {
	err      error
	startErr error // nil: started again
}

func (e *restoreError) Error() string {
	if e.startErr != nil {
		return e.err.Error() + "; left stopped: could not start: " + e.startErr.Error()
	}
	return e.err.Error() + "; started again"
}
func (e *restoreError) Unwrap() error { return e.err }

// supersededError says that an instance was found changed since the look-up,
// by someone else, so that its change is no longer to be made: now is what
// the diff says of it at the re-check.
type supersededError struct{ now plan.Change }

func (e *supersededError) Error() string {
	return fmt.Sprintf("changed since the look-up: now %s %s", e.now.Action, e.now.Reason)
}

// journalError marks a failure to write the journal.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }
func (e *journalError) Unwrap() error { return e.err }

// journal appends r. After one failed write, every further intent is refused
// without writing: no call is made that the journal might not know of.
func (e *Executor) journal(r Record) error {
	if e.record == nil {
		return nil
	}
	if r.Event == EventIntent {
		e.mu.Lock()
		failed := e.journalErr
		e.mu.Unlock()
		if failed != nil {
			return &journalError{fmt.Errorf("journal %s %s: not written after an earlier failure: %w", r.Event, r.ID, failed)}
		}
	}
	r.Run = e.opts.RunID
	r.Plan = e.planPath
	if err := e.record(r); err != nil {
		jerr := &journalError{err}
		e.journalFailed(jerr)
		return jerr
	}
	return nil
}

// converge runs the steps: re-check → stop if running → wait stopped →
// intent → submit → wait done → start if it ran and the cloud did not start
// it. It returns the reinstall token to record as done. ctx is the run's:
// the steps are bounded by the instance timeout, and starting an instance
// again after a change that did not happen by a timeout of its own.
func (e *Executor) converge(ctx context.Context, prov providers.Provider, it *item, step func(string)) (string, error) {
	timeout := e.instanceTimeout()
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	token, err := e.steps(ictx, prov, it, step)
	if err == nil {
		return token, nil
	}
	var se *stepError
	if errors.Is(ictx.Err(), context.DeadlineExceeded) && ctx.Err() == nil && errors.As(err, &se) {
		err = &stepError{se.step, fmt.Errorf("timed out after %s (instanceTimeout): %w", timeout, se.err)}
	}
	if notTaken(err) || leftStopped(err) {
		err = e.startAgain(ctx, prov, it, err, step)
	}
	return "", err
}

// leftStoppedError is a change the cloud ended failed, leaving the instance
// stopped, whose outcome on the disk is unknown: the instance is started
// again, the change is not called untouched.
type leftStoppedError struct{ err error }

func (e *leftStoppedError) Error() string { return e.err.Error() }
func (e *leftStoppedError) Unwrap() error { return e.err }

func leftStopped(err error) bool {
	var ls *leftStoppedError
	return errors.As(err, &ls)
}

// errChangeFailed is matched by a change the cloud reports ended failed (its
// job FAILed), as opposed to one still under way when a wait gave up.
var errChangeFailed = errors.New("the cloud ended the change failed")

// notTaken reports whether err says the change did not happen.
func notTaken(err error) bool {
	var nt *notTakenError
	return errors.As(err, &nt)
}

// steps are converge's steps, bounded by ctx.
func (e *Executor) steps(ctx context.Context, prov providers.Provider, it *item, step func(string)) (string, error) {
	if err := e.recheck(ctx, prov, it); err != nil {
		return "", err
	}
	c := it.c
	in := c.Instance
	caps := prov.Capabilities()
	running := c.StopFirst
	if running && !caps.ChangeStopsRunning {
		// The intent comes before the stop: a crash after the stop must not
		// forget that the instance ran and has to be started again.
		if err := e.journal(e.intent(it, false)); err != nil {
			return "", err
		}
		step(StepStop)
		if err := e.power(ctx, prov, in.ID, prov.Stop, providers.StateRunning); err != nil {
			return "", untouched(StepStop, err)
		}
		step(StepWaitStop)
		if _, err := e.waitState(ctx, prov, in.ID, providers.StateStopped, waitKind{in.Provider, WaitStop}); err != nil {
			return "", untouched(StepWaitStop, err)
		}
		running = false
	}
	sub, err := e.submit(ctx, prov, it, running, step)
	if err != nil {
		return "", err
	}
	step(StepWaitDone)
	// Changes of running and of stopped instances take different times (a
	// change with the stop inside it).
	kind := waitKind{in.Provider, WaitChange}
	if running {
		kind.wait = WaitChangeRunning
	}
	inst, err := e.follow(ctx, prov, sub, kind)
	if err != nil {
		// An asynchronous failure that leaves the instance stopped (a failed
		// job after the server was shut off) has not changed its
		// disk: it is started again like a refused change.
		// The cloud's verdict (a job FAILed) may come with an instance read
		// older than it (a coalesced read taken while the server was still
		// being shut off): a change the cloud ended failed is over, so
		// startAgain reads the instance again and starts it if it is stopped.
		failed := errors.Is(err, errChangeFailed) && inst.State != providers.StateError
		if (inst.State == providers.StateStopped || failed) && inst.Image != in.Image {
			return "", untouched(StepWaitDone, err)
		}
		// The same failure of a reinstall: the image it ran all along
		// cannot tell whether the disk was rebuilt, so the token stays in
		// doubt; but the instance is started again, which is right either
		// way (the cloud starts it after a reinstall).
		if failed {
			return "", &stepError{StepWaitDone, &leftStoppedError{err}}
		}
		return "", &stepError{StepWaitDone, err}
	}
	if err := e.startIfNeeded(ctx, prov, it, inst, step); err != nil {
		return "", err
	}
	return in.Reinstall, nil
}

// recheck reads the instance again just before it is touched: the diff was
// made at the look-up, perhaps hours ago, and someone may have changed the
// instance since. The instance's change is made only if the diff of now
// still says to make it; otherwise it is reported as it is now.
func (e *Executor) recheck(ctx context.Context, prov providers.Provider, it *item) error {
	in := it.c.Instance
	st, ok := e.aheadRead(ctx, it)
	if !ok {
		// Not read ahead (or too long ago): on the poll clock's next tick,
		// with the polls of the instances in flight: the provider coalesces
		// them into one call, where a read at the moment of each start would
		// cost a call per instance (and a rate budget the writes need).
		if err := e.tick(ctx); err != nil {
			return &stepError{StepRecheck, err}
		}
		var err error
		if st, err = prov.Status(providers.WithFirst(ctx), in.ID); err != nil {
			return &stepError{StepRecheck, err}
		}
	}
	one := &plan.Plan{Instances: []*plan.Instance{in}}
	now := plan.DiffHistory(one, map[string]plan.Observed{plan.Key(in.Provider, in.ID): Observe(st)}, HistoryOf(one, e.opts.Journal, nil))[0]
	if !now.Action.Mutates() || now.Action != it.c.Action || now.StopFirst != it.c.StopFirst {
		if now.Action.Mutates() {
			now.Action, now.Reason = plan.ActionBlocked, fmt.Sprintf("changed since the look-up (was %s, now %s); run again to plan it anew", it.c.Action, now.Observed.Raw)
		}
		return &supersededError{now: now}
	}
	return nil
}

// power makes a stop or a start (call), which is safe to repeat: when its
// answer is lost (in doubt), the cloud is asked, and the call made again while
// the instance still shows the state from which it was to move, a bounded
// number of times. A batch call that loses its answer so fails no instance.
func (e *Executor) power(ctx context.Context, prov providers.Provider, id string, call func(context.Context, string) error, from providers.State) error {
	var err error
	for range maxPowerCalls {
		err = call(ctx, id)
		if err == nil || !providers.IsInDoubt(err) {
			return err
		}
		// Give the cloud a poll interval to show the call's effect.
		if terr := e.tick(ctx); terr != nil {
			return fmt.Errorf("%w; interrupted before the instance could be checked", err)
		}
		st, serr := prov.Status(ctx, id)
		if serr != nil {
			return fmt.Errorf("%w; the instance could not be looked up: %v", err, serr)
		}
		if st.State != from {
			return nil
		}
	}
	return fmt.Errorf("%w (the instance still showed no effect after %d calls)", err, maxPowerCalls)
}

// startAgain starts an instance that ran before reimage stopped it, after its
// change did not happen (refused, timed out before submitting, in doubt and
// not taken, failed leaving it stopped): nothing is left worse than found.
// It has its own time bound, since cause may be the instance timeout; a
// second signal (ctx) leaves the instance to the next run.
func (e *Executor) startAgain(ctx context.Context, prov providers.Provider, it *item, cause error, step func(string)) error {
	if !it.wasRunning || ctx.Err() != nil {
		return cause
	}
	ctx, cancel := context.WithTimeout(ctx, e.instanceTimeout())
	defer cancel()
	id := it.c.Instance.ID
	inst, err := e.settle(ctx, prov, id)
	if err != nil {
		return &restoreError{err: cause, startErr: err}
	}
	if inst.State == providers.StateRunning {
		return cause // never stopped (the stop itself failed)
	}
	step(StepStart)
	if err := e.power(ctx, prov, id, prov.Start, providers.StateStopped); err != nil {
		return &restoreError{err: cause, startErr: err}
	}
	step(StepWaitStart)
	if _, err := e.waitState(ctx, prov, id, providers.StateRunning, waitKind{it.c.Instance.Provider, WaitStart}); err != nil {
		return &restoreError{err: cause, startErr: err}
	}
	return &restoreError{err: cause}
}

func (e *Executor) intent(it *item, submitting bool) Record {
	in := it.c.Instance
	action := plan.ActionChange.String()
	if it.c.Action == plan.ActionReinstall {
		action = plan.ActionReinstall.String()
	}
	r := Record{Event: EventIntent, Provider: in.Provider, ID: in.ID, Action: action, Image: in.Image, Token: in.Reinstall, WasRunning: it.wasRunning}
	if !submitting {
		r.Reason = ReasonStopped
	}
	return r
}

// submit writes the intent, then makes the change call. A call whose outcome
// is in doubt is resolved by asking the cloud; it is submitted again only when
// the cloud shows the first one did not take.
func (e *Executor) submit(ctx context.Context, prov providers.Provider, it *item, running bool, step func(string)) (providers.Submission, error) {
	in := it.c.Instance
	req := providers.ChangeRequest{
		InstanceID: in.ID,
		ImageID:    in.Image,
		Reinstall:  it.c.Action == plan.ActionReinstall,
		Running:    running,
		Options:    in.Options,
	}
	if in.Login.Password != nil {
		req.Password = e.passwords[in.Login.Password]
	}
	for {
		if err := e.journal(e.intent(it, true)); err != nil {
			// Nothing was submitted: a stopped instance is started again.
			return providers.Submission{}, untouched(StepSubmit, err)
		}
		if err := e.markIntent(ctx, prov, it); err != nil {
			// Nothing was submitted.
			return providers.Submission{}, untouched(StepSubmit, err)
		}
		step(StepSubmit)
		sub, err := prov.Change(ctx, req)
		if err == nil {
			// A failed write stops further intents; this change was made and
			// is followed to its end all the same.
			_ = e.journal(Record{Event: EventSubmitted, Provider: in.Provider, ID: in.ID, JobID: sub.JobID, RequestID: sub.RequestID})
			return sub, nil
		}
		if !providers.IsInDoubt(err) {
			// Refused: the cloud did not make the change.
			return sub, untouched(StepSubmit, err)
		}
		taken, rerr := e.tookEffect(ctx, prov, it, running, err)
		if rerr != nil {
			return sub, &stepError{StepSubmit, rerr}
		}
		if taken {
			return providers.Submission{InstanceID: in.ID, ImageID: in.Image, Reinstall: req.Reinstall}, nil
		}
		it.resubmits++
		if it.resubmits > maxResubmits {
			return sub, untouched(StepSubmit, fmt.Errorf("gave up after %d submissions the cloud did not take: %w", it.resubmits, err))
		}
	}
}

// tookEffect decides whether a change call whose answer was lost reached the
// cloud, from what the instance shows over the settle window: busy, in an
// error state or on the target image at any poll, it took (at once); idle on
// its old image, in the state it had (running only if the change was to stop
// it itself), through the whole window, it did not. A cloud may queue a change
// for seconds before the instance shows it, so one read is not evidence. A
// reinstall of an image the instance already runs cannot be told apart from
// one that never happened, unless the instance shows it under way, so it is
// never resubmitted blind: it fails as in doubt; so does an instance in any
// other state at the window's end.
func (e *Executor) tookEffect(ctx context.Context, prov providers.Provider, it *item, running bool, cause error) (bool, error) {
	in := it.c.Instance
	want := providers.StateStopped
	if running {
		want = providers.StateRunning
	}
	deadline := time.Now().Add(e.settleWindow)
	var last providers.Instance
	var lastErr error
	seen := false
	for {
		if err := e.tick(ctx); err != nil {
			return false, markAs(ErrInDoubt, fmt.Errorf("change in doubt (%w) and interrupted before it could be checked", cause))
		}
		st, err := prov.Status(ctx, in.ID)
		switch {
		case err != nil:
			if permanent(err) {
				return false, markAs(ErrInDoubt, fmt.Errorf("change in doubt (%w) and the instance could not be looked up: %v", cause, err))
			}
			lastErr = err
		case st.State == providers.StateInProgress || st.State == providers.StateError:
			return true, nil
		case it.c.Action == plan.ActionChange && st.Image == in.Image:
			return true, nil
		default:
			last, seen = st, true
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	switch {
	case !seen:
		return false, markAs(ErrInDoubt, fmt.Errorf("change in doubt (%w) and the instance could not be looked up: %v", cause, lastErr))
	case it.c.Action == plan.ActionReinstall:
		err := markAs(ErrInDoubt, fmt.Errorf("reinstall in doubt (%w): the instance shows no sign of it; check %s by hand, then run reimage ack", cause, in.ID))
		if last.State == providers.StateStopped {
			// The token stays in doubt, but the cloud shows no change:
			// an instance that ran is started again.
			err = &leftStoppedError{err}
		}
		return false, err
	case last.State != want:
		return false, markAs(ErrInDoubt, fmt.Errorf("change in doubt (%w): after %s the instance is %s, neither under way nor as it was; check %s by hand", cause, e.settleWindow, last.RawState, in.ID))
	}
	return false, nil
}

// permanent reports whether a failed read will fail again if repeated: the
// cloud refused it for a reason other than its load (403, 404…). Errors the
// provider has retried already (5xx, network) may pass on a later poll.
func permanent(err error) bool {
	var a *providers.APIError
	if providers.IsInDoubt(err) || !errors.As(err, &a) || a.Throttled {
		return false
	}
	return a.HTTPStatus >= 400 && a.HTTPStatus < 500 && a.HTTPStatus != 408 && a.HTTPStatus != 429
}

// follow polls a submitted change until the cloud reports it done or failed;
// kind names the wait for the poll schedule.
func (e *Executor) follow(ctx context.Context, prov providers.Provider, sub providers.Submission, kind waitKind) (providers.Instance, error) {
	return e.pollUntil(ctx, kind, func() (providers.Instance, error) {
		pr, err := prov.Progress(ctx, sub)
		switch {
		case err != nil:
			return pr.Instance, pollError(err)
		case pr.Phase == providers.PhaseDone:
			return pr.Instance, nil
		case pr.Phase == providers.PhaseFailed:
			reason := pr.Reason
			if reason == "" {
				reason = "the cloud reports the change failed (" + pr.Instance.RawState + ")"
			}
			if pr.Instance.State == providers.StateError {
				return pr.Instance, markAs(ErrErrorState, errors.New(reason))
			}
			return pr.Instance, markAs(errChangeFailed, errors.New(reason))
		}
		return pr.Instance, errPollAgain
	})
}

// errPollAgain tells pollUntil that the instance is not there yet.
var errPollAgain = errors.New("not yet")

// pollFailed is a failed poll worth repeating; pollUntil keeps the last one
// to say why a wait timed out.
type pollFailed struct{ err error }

func (p *pollFailed) Error() string { return p.err.Error() }
func (p *pollFailed) Unwrap() error { return p.err }

// pollError classifies a failed read: a permanent one fails the wait with it,
// any other (retried by the provider already) is tried again on the next tick.
func pollError(err error) error {
	if permanent(err) {
		return err
	}
	return &pollFailed{err}
}

// pollUntil calls check on the shared ticks, when the poll schedule says
// (pollsched.go), until check returns nil (done: the wait's duration is
// learned for kind) or an error other than errPollAgain or a *pollFailed
// (failed). When ctx ends first, the error says what the last failed poll was.
func (e *Executor) pollUntil(ctx context.Context, kind waitKind, check func() (providers.Instance, error)) (providers.Instance, error) {
	start := time.Now()
	var lastFailed error
	ended := func(err error) error {
		if lastFailed != nil {
			return fmt.Errorf("%w; last poll: %v", err, lastFailed)
		}
		return err
	}
	polling := false
	defer func() {
		if polling {
			e.polling.Add(-1)
		}
	}()
	for polls := 0; ; polls++ {
		elapsed := time.Since(start)
		// To a poll interval before the time the schedule says: the tick
		// after that falls at it or just before.
		if d := e.polls.next(kind, elapsed, polls) - e.poll - elapsed; d > 0 && !sleep(ctx, d, nil) {
			return providers.Instance{}, ended(ctx.Err())
		}
		if !polling {
			// From its first poll on, the wait may end at any tick and free a slot.
			polling = true
			e.polling.Add(1)
		}
		if err := e.tick(ctx); err != nil {
			return providers.Instance{}, ended(err)
		}
		inst, err := check()
		var pf *pollFailed
		switch {
		case err == nil:
			e.polls.observe(kind, time.Since(start))
			return inst, nil
		case errors.As(err, &pf):
			lastFailed = pf.err
		case errors.Is(err, errPollAgain):
			lastFailed = nil
		default:
			return inst, err
		}
	}
}

// startIfNeeded starts an instance that ran before the change and that the
// cloud left stopped, and waits until it runs.
func (e *Executor) startIfNeeded(ctx context.Context, prov providers.Provider, it *item, inst providers.Instance, step func(string)) error {
	if !it.wasRunning {
		return nil
	}
	if inst.State == providers.StateInProgress || inst.State == providers.StateUnknown {
		var err error
		inst, err = e.settle(ctx, prov, it.c.Instance.ID)
		if err != nil {
			return &stepError{StepWaitStart, err}
		}
	}
	if inst.State == providers.StateRunning {
		return nil
	}
	step(StepStart)
	if err := e.power(ctx, prov, it.c.Instance.ID, prov.Start, providers.StateStopped); err != nil {
		return &stepError{StepStart, err}
	}
	step(StepWaitStart)
	if _, err := e.waitState(ctx, prov, it.c.Instance.ID, providers.StateRunning, waitKind{it.c.Instance.Provider, WaitStart}); err != nil {
		return &stepError{StepWaitStart, err}
	}
	return nil
}

// tick waits for the next multiple of the poll interval on the wall clock.
func (e *Executor) tick(ctx context.Context) error {
	if !sleep(ctx, e.poll-time.Duration(time.Now().UnixNano()%int64(e.poll)), nil) {
		return ctx.Err()
	}
	return nil
}

// waitState polls until the instance reaches want; kind names the wait for
// the poll schedule (the zero waitKind: not learned).
func (e *Executor) waitState(ctx context.Context, prov providers.Provider, id string, want providers.State, kind waitKind) (providers.Instance, error) {
	return e.waitFor(ctx, prov, id, kind, func(s providers.State) bool { return s == want })
}

// settle polls until the instance leaves any transitional state.
func (e *Executor) settle(ctx context.Context, prov providers.Provider, id string) (providers.Instance, error) {
	return e.waitFor(ctx, prov, id, waitKind{}, func(s providers.State) bool {
		return s != providers.StateInProgress && s != providers.StateUnknown
	})
}

// waitFor polls the instance until done accepts its state; an error state, a
// vanished instance or a permanent read error (403…) fails at once. Another
// failed poll (a read the provider has retried already) is tried again on the
// next tick, up to the instance timeout.
func (e *Executor) waitFor(ctx context.Context, prov providers.Provider, id string, kind waitKind, done func(providers.State) bool) (providers.Instance, error) {
	return e.pollUntil(ctx, kind, func() (providers.Instance, error) {
		st, err := prov.Status(ctx, id)
		switch {
		case err != nil:
			return st, pollError(err)
		case st.State == providers.StateError:
			return st, markAs(ErrErrorState, fmt.Errorf("instance went into an error state (%s)%s", st.RawState, faultSuffix(st)))
		case st.State == providers.StateNotFound:
			return st, errors.New("instance no longer exists")
		case done(st.State):
			return st, nil
		}
		return st, errPollAgain
	})
}

func faultSuffix(st providers.Instance) string {
	if st.Fault == "" {
		return ""
	}
	return ": " + st.Fault
}
