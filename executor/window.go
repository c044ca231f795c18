package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/reimage-dev/reimage/executor/internal/probe"
	"github.com/reimage-dev/reimage/plan"
)

// gateState is what the rollout gates decided during a run; guarded by the
// Executor's mu.
type gateState struct {
	// windowShut: the maintenance window is closed, no instance starts.
	windowShut bool
	// stopReason says why instances were left not started (for the recap).
	stopReason string
	// next says what to do about them.
	next string
	// starts counts instances started.
	starts int
	// fastest is the shortest time an instance of this run took to be done.
	fastest time.Duration
}

// durations tells the gate state how long instances take, from the run's events.
type durations struct{ e *Executor }

// Observe implements Observer.
func (d durations) Observe(ev Event) {
	if ev.Type != EventInstanceDone || ev.Elapsed <= 0 {
		return
	}
	d.e.mu.Lock()
	if d.e.gates.fastest == 0 || ev.Elapsed < d.e.gates.fastest {
		d.e.gates.fastest = ev.Elapsed
	}
	d.e.mu.Unlock()
}

// windowOpen reports whether an instance may start now. The first time it
// finds the window closed it records it and tells the observers: before any
// instance started, the run began outside the window (it changes nothing and
// exits 0); later, the window closed mid-run (nothing new starts).
func (e *Executor) windowOpen(wave, waves int) bool {
	w := e.opts.Plan.Rollout.Window
	if w == nil {
		return true
	}
	e.mu.Lock()
	if e.gates.windowShut {
		e.mu.Unlock()
		return false
	}
	now := e.now()
	open, end := w.Open(now)
	// Inside, an instance starts only if it fits: if it would still run at the
	// end by the fastest instance of this run so far, it is left for the next window.
	fits := !open || e.gates.fastest == 0 || !now.Add(e.gates.fastest).After(end)
	if open && fits {
		e.mu.Unlock()
		return true
	}
	e.gates.windowShut = true
	started := e.gates.starts > 0
	next := w.Next(now)
	when := "its next opening"
	if !next.IsZero() {
		when = next.Format("Mon 2006-01-02 15:04 MST")
	}
	var err error
	switch {
	case open:
		e.sum.WindowClosed = true
		err = fmt.Errorf("the maintenance window (%s) closes at %s: an instance starting now would not finish before (the fastest so far took %s); no further instance starts, those in flight finish",
			w, end.In(w.Location).Format("15:04 MST"), e.gates.fastest.Round(time.Second))
		e.gates.stopReason = "it would not have finished before the maintenance window closed"
	case started:
		e.sum.WindowClosed = true
		err = fmt.Errorf("the maintenance window (%s) closed at %s: no further instance starts; those in flight finish", w, now.In(w.Location).Format("15:04 MST"))
		e.gates.stopReason = "the maintenance window closed before it started"
	default:
		e.sum.OutsideWindow = true
		err = fmt.Errorf("outside the maintenance window (%s) at %s: nothing was changed; it next opens %s", w, now.In(w.Location).Format("Mon 15:04 MST"), when)
		e.gates.stopReason = "outside the maintenance window"
	}
	e.gates.next = "run apply again in the window (next " + when + ")"
	e.mu.Unlock()
	e.emit(Event{Type: EventWindow, Wave: wave, Waves: waves, Err: err})
	return false
}

// gate checks rollout.gates before wave (2 or later); a failing or
// unreachable gate halts the run.
func (e *Executor) gate(ctx context.Context, wave, waves int) bool {
	gates := e.opts.Plan.Rollout.Gates
	if len(gates) == 0 {
		return true
	}
	e.emit(Event{Type: EventGate, Wave: wave, Waves: waves})
	err := probe.Gates(ctx, gates)
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	e.mu.Lock()
	already := e.halted
	e.halted = true
	e.sum.Halted = true
	e.sum.GateFailed = true
	e.gates.stopReason = "halted by a gate before wave " + fmt.Sprint(wave)
	e.gates.next = "find out why the gate failed, then run apply again"
	e.mu.Unlock()
	if !already {
		e.emit(Event{Type: EventHalt, Wave: wave - 1, Waves: waves, Err: fmt.Errorf("%w: wave %d does not start", err, wave)})
	}
	return false
}

// underWay reports whether the rollout is under way before this run starts:
// an instance of the plan already runs its target. Then this run's first wave
// is not the rollout's first, and the gates are asked before it too: a rerun
// after a gate halted (by hand, or the next cron run) must not change one
// more instance while the gate still fails.
func underWay(changes []plan.Change) bool {
	for i := range changes {
		if changes[i].Action == plan.ActionOK {
			return true
		}
	}
	return false
}

// mayStart is windowOpen for the next instance, counting those started.
func (e *Executor) mayStart(wave, waves int) bool {
	if !e.windowOpen(wave, waves) {
		return false
	}
	e.mu.Lock()
	e.gates.starts++
	e.mu.Unlock()
	return true
}
