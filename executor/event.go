package executor

import (
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// EventType is a closed list of what a run reports.
type EventType string

// Event types, in the order a run emits them.
const (
	EventRunStart      EventType = "run_start"
	EventResolve       EventType = "resolve" // an instance left in doubt by an earlier run is being resolved
	EventWaveStart     EventType = "wave_start"
	EventInstanceStart EventType = "instance_start"
	EventInstanceStep  EventType = "instance_step"
	EventInstanceDone  EventType = "instance_done"
	EventInstanceFail  EventType = "instance_failed"
	// EventInstanceSkipped: re-checked just before it was touched, the
	// instance was found changed by someone else; Change is the diff of now
	// (ok or blocked) and nothing was done to it.
	EventInstanceSkipped EventType = "instance_skipped"
	// EventInstanceInterrupted: abandoned by a second signal; what was
	// submitted stays in the journal, in doubt, for the next run. Not a failure.
	EventInstanceInterrupted EventType = "instance_interrupted"
	EventWaveEnd             EventType = "wave_end"
	EventPause               EventType = "pause"
	EventHalt                EventType = "halt"
	EventRunEnd              EventType = "run_end"
	// Rollout gates (window.go, recap.go).
	EventWindow EventType = "window" // the maintenance window is closed: nothing (more) starts
	EventGate   EventType = "gate"   // the gates are being checked before a wave
	EventRecap  EventType = "recap"  // before run_end: every instance left failed, blocked, in doubt or not started
)

// Steps an instance goes through.
const (
	StepRecheck   = "recheck"
	StepStop      = "stop"
	StepWaitStop  = "wait_stopped"
	StepSubmit    = "submit"
	StepWaitDone  = "wait_done"
	StepStart     = "start"
	StepWaitStart = "wait_running"
	StepResolve   = "resolve"
)

// Event is one thing that happened in a run.
type Event struct {
	Type EventType
	Time time.Time
	// Wave is 1-based; Waves the number of waves planned.
	Wave, Waves int
	// WaveSize: instances in the wave (wave_start).
	WaveSize int
	// Change is set on instance events.
	Change *plan.Change
	Step   string
	// Err is set on instance_failed, instance_interrupted and halt.
	Err error
	// Elapsed: of the instance (done/failed), of the wave (wave_end), of the run (run_end).
	Elapsed time.Duration
	// Pause: the pause about to be waited (pause).
	Pause time.Duration
	// Summary is set on run_start (planned counts) and run_end.
	Summary *Summary
	// Recap is set on recap.
	Recap []RecapEntry
}

// Summary counts a run's instances.
type Summary struct {
	Total    int `json:"total"` // changes the run set out to make
	Done     int `json:"done"`
	Failed   int `json:"failed"`
	Pending  int `json:"pending"`  // never started (halted or interrupted)
	Skipped  int `json:"skipped"`  // ok, protected or blocked: nothing to do
	Blocked  int `json:"blocked"`  // part of Skipped, reported with their reasons
	Resolved int `json:"resolved"` // left in doubt by an earlier run and resolved
	// Interrupted: abandoned in flight by a second signal (in doubt, resolved
	// by the next run); neither done nor failed.
	Interrupted int `json:"interrupted_instances"`
	// Superseded: found changed by someone else when re-checked just before
	// being touched, and left alone; also counted in Skipped (and Blocked).
	Superseded int `json:"superseded"`
	// Broken: instances earlier runs broke (error state, or stopped and not
	// started again), still broken and not acknowledged; they count against
	// maxFailures and keep the run from converging.
	Broken int `json:"broken"`
	// InDoubt: instances blocked because a change may or may not have
	// happened, until acknowledged; they keep the run from converging.
	InDoubt   int  `json:"in_doubt"`
	Halted    bool `json:"halted"`
	Interrupt bool `json:"interrupted"`
	// OutsideWindow: the run began outside rollout.window and changed nothing.
	OutsideWindow bool `json:"outside_window,omitempty"`
	// WindowClosed: the window closed mid-run; what had not started was left.
	WindowClosed bool `json:"window_closed,omitempty"`
	// GateFailed: a gate halted the run (Halted is set too).
	GateFailed bool `json:"gate_failed,omitempty"`
}

// OnlyOutsideWindow reports a run that began outside its maintenance window and
// so, by design, did nothing: not a failure, not a convergence.
func (s Summary) OnlyOutsideWindow() bool {
	return s.OutsideWindow && s.Done == 0 && s.Failed == 0 && !s.Halted && !s.Interrupt
}

// Converged reports whether the run did everything it set out to do, and no
// instance is left broken or in doubt.
func (s Summary) Converged() bool {
	return s.Failed == 0 && s.Pending == 0 && s.Interrupted == 0 && s.Broken == 0 && s.InDoubt == 0 && !s.Halted && !s.Interrupt
}

// Observer receives a run's events. It is called from many goroutines and must
// be safe for concurrent use, and quick: it runs on the engine's path.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// Observers fans events out to several observers in order.
type Observers []Observer

// Observe passes e to every observer.
func (o Observers) Observe(e Event) {
	for _, x := range o {
		x.Observe(e)
	}
}
