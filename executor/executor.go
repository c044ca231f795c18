package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// DefaultPollInterval is how often instances in flight are polled. All waits
// wake on the same ticks of the wall clock, so the polls of every instance in
// flight fall into the same coalescing window and cost one batch call per 100.
const DefaultPollInterval = 5 * time.Second

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
}

// Executor applies one plan's changes.
type Executor struct {
	opts Options
	obs  Observer
	now  func() time.Time
	poll time.Duration

	passwords map[*plan.SecretRef]string
	quiet     quietPeriods
	// resumedRunning: instances an earlier run stopped and left in doubt, whose
	// change did not take; they must be started again after their change.
	resumedRunning map[string]bool

	mu       sync.Mutex
	sum      Summary
	failures int
	budget   int
	halted   bool
	gates    gateState
	// lanes: the write backlog of each provider, for starting instances
	// per provider lane (lanes.go).
	lanes *laneState
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
		pw, err := resolve(ref)
		if err == nil {
			err = plan.CheckPassword(pw)
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
	var todo []*item
	for i := range changes {
		c := &changes[i]
		if c.Action.Mutates() {
			key := plan.Key(c.Instance.Provider, c.Instance.ID)
			todo = append(todo, &item{c: c, wasRunning: c.StopFirst || e.resumedRunning[key]})
			continue
		}
		e.sum.Skipped++
		if c.Action == plan.ActionBlocked {
			e.sum.Blocked++
		}
	}
	e.sum.Total = len(todo)
	e.budget = e.opts.Plan.Rollout.MaxFailures.Budget(len(todo))
	sizes := e.opts.Plan.Waves(len(todo))
	planned := e.sum
	rc := newRecap()
	e.obs = Observers{rc, e.obs}
	e.emit(Event{Type: EventRunStart, Waves: len(sizes), Summary: &planned})
	if len(todo) > 0 {
		e.windowOpen(0, len(sizes)) // a run begun outside changes nothing
	}

	var journalErr error
	next := 0
	for w, size := range sizes {
		if e.stopping(ctx) {
			break
		}
		if w > 0 && !e.gate(ctx, w+1, len(sizes)) {
			break
		}
		wave := todo[next : next+size]
		next += size
		ws := e.now()
		e.emit(Event{Type: EventWaveStart, Wave: w + 1, Waves: len(sizes), WaveSize: size})
		if err := e.runWave(ctx, wave, w+1, len(sizes)); err != nil {
			journalErr = err
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
	e.mu.Lock()
	e.sum.Pending = e.sum.Total - e.sum.Done - e.sum.Failed
	e.sum.Interrupt = e.draining() || ctx.Err() != nil
	sum := e.sum
	e.mu.Unlock()
	e.emit(Event{Type: EventRecap, Recap: rc.entries(changes, todo, e.notStarted(ctx))})
	e.emit(Event{Type: EventRunEnd, Elapsed: e.now().Sub(start), Summary: &sum})
	return sum, journalErr
}

func (e *Executor) stopping(ctx context.Context) bool {
	e.mu.Lock()
	halted := e.halted || e.gates.windowShut
	e.mu.Unlock()
	return halted || ctx.Err() != nil || e.draining()
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
// Instances not yet started when the run must stop (signal, budget) stay pending.
func (e *Executor) runWave(ctx context.Context, wave []*item, w, waves int) error {
	conc := e.opts.Plan.Rollout.Concurrency
	if conc <= 0 {
		conc = plan.DefaultConcurrency
	}
	// A slot is taken before the checks, so that they see what the instances
	// in flight did meanwhile (a failure, the window closing).
	slots := make(chan struct{}, conc)
	var g errgroup.Group
	// Instances start from per-provider lanes (lanes.go): one cloud's rate
	// limit never holds the slots another cloud's instances could use.
	ln := newLanes(wave, e.opts.Plan, e.lanes)
	for !ln.empty() {
		slots <- struct{}{}
		// Checked before each start: a failure budget exceeded mid-wave, a
		// signal or the end of the window stops new starts at once, while
		// those in flight finish.
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
		g.Go(func() error {
			defer func() { <-slots }()
			defer e.lanes.finished(it)
			return e.runInstance(ctx, it, w, waves)
		})
	}
	return g.Wait()
}

// runInstance takes one instance through its steps and records the outcome.
// The returned error is only for journal failures, which stop the run: without
// the journal, no further call may be made safely.
func (e *Executor) runInstance(ctx context.Context, it *item, w, waves int) error {
	c := it.c
	in := c.Instance
	prov := e.opts.Providers[in.Provider]
	start := e.now()
	e.emit(Event{Type: EventInstanceStart, Wave: w, Waves: waves, Change: c})
	timeout := e.opts.Plan.Rollout.InstanceTimeout
	if timeout <= 0 {
		timeout = plan.DefaultInstanceTimeout
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	step := func(s string) {
		e.lanes.step(it, s)
		e.emit(Event{Type: EventInstanceStep, Wave: w, Waves: waves, Change: c, Step: s})
	}
	// Rollout gates (health.go): the before hook may leave the instance untouched.
	err := e.beforeChange(ctx, prov, in, step)
	var token string
	if err == nil {
		token, err = e.converge(ictx, prov, it, step)
	}
	if err == nil {
		var reason string
		if merr := e.markDone(ctx, prov, in.ID, token); merr != nil {
			reason = "done marker not set: " + merr.Error()
		}
		if jerr := e.journal(Record{Event: EventDone, Provider: in.Provider, ID: in.ID, Image: in.Image, Token: token, Reason: reason}); jerr != nil {
			return jerr
		}
		// The change is done (and its token spent) whatever health says next.
		if err = e.afterChange(ctx, prov, in, providers.Instance{}, step); err == nil {
			e.mu.Lock()
			e.sum.Done++
			e.mu.Unlock()
			e.emit(Event{Type: EventInstanceDone, Wave: w, Waves: waves, Change: c, Elapsed: e.now().Sub(start)})
			return nil
		}
		return e.failChanged(it, w, waves, err, e.now().Sub(start))
	}
	elapsed := e.now().Sub(start)
	var jerr *journalError
	if errors.As(err, &jerr) {
		return err
	}
	if ctx.Err() != nil && !errors.Is(ictx.Err(), context.DeadlineExceeded) {
		// Interrupted by a second signal: whatever was submitted stays in the
		// journal as in doubt, for the next run to resolve.
		err = fmt.Errorf("interrupted during %s; the next run resolves it", lastStep(err))
	} else {
		if errors.Is(ictx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s (instanceTimeout): %w", timeout, err)
		}
		var jerr error
		if err, jerr = e.recordFailure(ctx, prov, it, err); jerr != nil {
			return jerr
		}
	}
	e.mu.Lock()
	e.sum.Failed++
	e.failures++
	e.mu.Unlock()
	e.emit(Event{Type: EventInstanceFail, Wave: w, Waves: waves, Change: c, Err: err, Elapsed: elapsed})
	return nil
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

// journalError marks a failure to write the journal.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }
func (e *journalError) Unwrap() error { return e.err }

func (e *Executor) journal(r Record) error {
	if e.opts.Journal == nil {
		return nil
	}
	r.Run = e.opts.RunID
	if err := e.opts.Journal.Append(r); err != nil {
		return &journalError{err}
	}
	return nil
}

// converge runs the steps: stop if running → wait stopped → intent → submit →
// wait done → start if it ran and the cloud did not start it. It returns the
// reinstall token to record as done.
func (e *Executor) converge(ctx context.Context, prov providers.Provider, it *item, step func(string)) (string, error) {
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
		if err := prov.Stop(ctx, in.ID); err != nil {
			return "", &stepError{StepStop, err}
		}
		step(StepWaitStop)
		if _, err := e.waitState(ctx, prov, in.ID, providers.StateStopped, in.Provider+"/stop"); err != nil {
			return "", &stepError{StepWaitStop, err}
		}
		running = false
	}
	sub, err := e.submit(ctx, prov, it, running, step)
	if err != nil {
		return "", err
	}
	step(StepWaitDone)
	// Changes of running and of stopped instances, and reinstalls, take
	// different times (a change with the stop inside it, a boot after it).
	kind := fmt.Sprintf("%s/%s/running=%t", in.Provider, c.Action, running)
	inst, err := e.follow(ctx, prov, sub, kind)
	if err != nil {
		return "", &stepError{StepWaitDone, err}
	}
	if err := e.startIfNeeded(ctx, prov, it, inst, step); err != nil {
		return "", err
	}
	return in.Reinstall, nil
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
		InstanceID:     in.ID,
		ImageID:        in.Image,
		Reinstall:      it.c.Action == plan.ActionReinstall,
		Running:        running,
		KeyIDs:         in.Login.KeyIDs,
		KeepImageLogin: in.Login.KeepImageLogin,
		KeyName:        in.Login.KeyName,
		UserID:         in.Login.UserID,
		BYOL:           in.BYOL,
		AutoPay:        in.AutoPay,
	}
	if in.Login.Password != nil {
		req.Password = e.passwords[in.Login.Password]
	}
	if d := in.SystemDisk; d != nil {
		req.SystemDiskSizeGB, req.SystemDiskType, req.SystemDiskResize = d.SizeGB, d.Type, d.Resize
	}
	if in.UserData != nil {
		req.UserDataBase64 = in.UserData.Base64
	}
	for {
		if err := e.journal(e.intent(it, true)); err != nil {
			return providers.Submission{}, err
		}
		if err := e.markIntent(ctx, prov, it); err != nil {
			return providers.Submission{}, &stepError{StepSubmit, err}
		}
		step(StepSubmit)
		sub, err := prov.Change(ctx, req)
		if err == nil {
			if err := e.journal(Record{Event: EventSubmitted, Provider: in.Provider, ID: in.ID, JobID: sub.JobID, RequestID: sub.RequestID}); err != nil {
				return sub, err
			}
			return sub, nil
		}
		if !providers.IsInDoubt(err) {
			return sub, &stepError{StepSubmit, err}
		}
		taken, rerr := e.tookEffect(ctx, prov, it, err)
		if rerr != nil {
			return sub, &stepError{StepSubmit, rerr}
		}
		if taken {
			return providers.Submission{InstanceID: in.ID, ImageID: in.Image, Reinstall: req.Reinstall}, nil
		}
		it.resubmits++
		if it.resubmits > maxResubmits {
			return sub, &stepError{StepSubmit, fmt.Errorf("gave up after %d submissions the cloud did not take: %w", it.resubmits, err)}
		}
	}
}

// tookEffect decides whether a change call whose answer was lost reached the
// cloud: after letting the cloud settle for two poll intervals, an instance
// that is busy, or already on the target image, took it; one idle on its old
// image did not. A reinstall of an image the instance already runs cannot be
// told apart from one that never happened, unless the instance shows the
// reinstall under way, so it is never resubmitted blind: it fails as in doubt.
func (e *Executor) tookEffect(ctx context.Context, prov providers.Provider, it *item, cause error) (bool, error) {
	in := it.c.Instance
	if !sleep(ctx, 2*e.poll, nil) { // in flight: only a second signal cuts it short
		return false, fmt.Errorf("change in doubt (%w) and interrupted before it could be checked", cause)
	}
	st, err := prov.Status(ctx, in.ID)
	if err != nil {
		return false, fmt.Errorf("change in doubt (%w) and the instance could not be looked up: %v", cause, err)
	}
	switch {
	case st.State == providers.StateInProgress || st.State == providers.StateError:
		return true, nil
	case it.c.Action == plan.ActionChange && st.Image == in.Image:
		return true, nil
	case it.c.Action == plan.ActionChange:
		return false, nil
	}
	return false, fmt.Errorf("reinstall in doubt (%w): the instance shows no sign of it; check %s by hand, then run reimage ack", cause, in.ID)
}

// follow polls a submitted change until the cloud reports it done or failed;
// kind names the wait for the quiet periods ("" for none).
func (e *Executor) follow(ctx context.Context, prov providers.Provider, sub providers.Submission, kind string) (providers.Instance, error) {
	return e.pollUntil(ctx, kind, func() (providers.Instance, error) {
		pr, err := prov.Progress(ctx, sub)
		switch {
		case err != nil:
			// A read the provider has retried already: keep following until
			// the instance timeout rather than abandon a submitted change.
			return pr.Instance, errPollAgain
		case pr.Phase == providers.PhaseDone:
			return pr.Instance, nil
		case pr.Phase == providers.PhaseFailed:
			reason := pr.Reason
			if reason == "" {
				reason = "the cloud reports the change failed (" + pr.Instance.RawState + ")"
			}
			return pr.Instance, errors.New(reason)
		}
		return pr.Instance, errPollAgain
	})
}

// errPollAgain tells pollUntil that the instance is not there yet.
var errPollAgain = errors.New("not yet")

// pollUntil calls check on the shared ticks, once the quiet period of kind is
// over, until check returns nil (done: the wait's duration is learned for
// kind) or an error other than errPollAgain (failed).
func (e *Executor) pollUntil(ctx context.Context, kind string, check func() (providers.Instance, error)) (providers.Instance, error) {
	start := time.Now()
	if err := e.quiet.wait(ctx, kind, start); err != nil {
		return providers.Instance{}, err
	}
	for {
		if err := e.tick(ctx); err != nil {
			return providers.Instance{}, err
		}
		inst, err := check()
		switch {
		case err == nil:
			if kind != "" {
				e.quiet.observe(kind, time.Since(start))
			}
			return inst, nil
		case !errors.Is(err, errPollAgain):
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
	if err := prov.Start(ctx, it.c.Instance.ID); err != nil {
		return &stepError{StepStart, err}
	}
	step(StepWaitStart)
	if _, err := e.waitState(ctx, prov, it.c.Instance.ID, providers.StateRunning, it.c.Instance.Provider+"/start"); err != nil {
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
// the quiet periods ("" for none).
func (e *Executor) waitState(ctx context.Context, prov providers.Provider, id string, want providers.State, kind string) (providers.Instance, error) {
	return e.waitFor(ctx, prov, id, kind, func(s providers.State) bool { return s == want })
}

// settle polls until the instance leaves any transitional state.
func (e *Executor) settle(ctx context.Context, prov providers.Provider, id string) (providers.Instance, error) {
	return e.waitFor(ctx, prov, id, "", func(s providers.State) bool {
		return s != providers.StateInProgress && s != providers.StateUnknown
	})
}

// waitFor polls the instance until done accepts its state; an error state or
// a vanished instance fails at once. A failed poll (a read the provider has
// retried already) is tried again on the next tick, up to the instance timeout.
func (e *Executor) waitFor(ctx context.Context, prov providers.Provider, id, kind string, done func(providers.State) bool) (providers.Instance, error) {
	return e.pollUntil(ctx, kind, func() (providers.Instance, error) {
		st, err := prov.Status(ctx, id)
		switch {
		case err != nil:
			return st, errPollAgain
		case st.State == providers.StateError:
			return st, fmt.Errorf("instance went into an error state (%s)%s", st.RawState, faultSuffix(st))
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
