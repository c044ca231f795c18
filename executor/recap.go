package executor

import (
	"context"
	"errors"
	"sync"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Outcomes an instance can have in the recap: what still needs a person or a
// later run.
const (
	OutcomeFailed     = "failed"
	OutcomeBlocked    = "blocked"
	OutcomeInDoubt    = "in_doubt"
	OutcomeNotStarted = "not_started"
)

// RecapEntry is one instance the run did not bring to the plan, with why and
// what to do next.
type RecapEntry struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Next     string `json:"next"`
}

// recap collects, from a run's own events, the instances that started and how
// they ended.
type recap struct {
	mu      sync.Mutex
	started map[*plan.Change]bool
	failed  []RecapEntry
}

func newRecap() *recap { return &recap{started: map[*plan.Change]bool{}} }

// Observe implements Observer.
func (r *recap) Observe(e Event) {
	switch e.Type {
	case EventInstanceStart:
		r.mu.Lock()
		r.started[e.Change] = true
		r.mu.Unlock()
	case EventInstanceFail:
		in := e.Change.Instance
		ent := RecapEntry{Provider: in.Provider, ID: in.ID, Name: in.Name, Outcome: OutcomeFailed, Reason: errText(e.Err)}
		ent.Outcome, ent.Next = failedNext(e.Err)
		r.mu.Lock()
		r.failed = append(r.failed, ent)
		r.mu.Unlock()
	case EventInstanceInterrupted:
		in := e.Change.Instance
		r.mu.Lock()
		r.failed = append(r.failed, RecapEntry{Provider: in.Provider, ID: in.ID, Name: in.Name, Outcome: OutcomeInDoubt,
			Reason: errText(e.Err), Next: "run apply again: it asks the cloud how the change ended"})
		r.mu.Unlock()
	case EventInstanceSkipped:
		if e.Change.Action != plan.ActionBlocked {
			return
		}
		in := e.Change.Instance
		r.mu.Lock()
		r.failed = append(r.failed, RecapEntry{Provider: in.Provider, ID: in.ID, Name: in.Name, Outcome: OutcomeBlocked,
			Reason: e.Change.Reason, Next: "remove the cause, then run apply again (plan shows it)"})
		r.mu.Unlock()
	}
}

func errText(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

// failedNext classifies a failure by its type and step (never its text, which
// may quote a hook's output or a cloud's message) and says what a person does
// next.
func failedNext(err error) (outcome, next string) {
	var notTaken *notTakenError
	switch step := lastStep(err); {
	case errors.Is(err, ErrInDoubt) || providers.IsInDoubt(err) && !errors.As(err, &notTaken):
		return OutcomeInDoubt, "run apply again: it asks the cloud what became of the change before anything else (a reinstall in doubt stays blocked until reimage ack)"
	case step == StepBeforeHook:
		return OutcomeFailed, "the instance was not touched: fix what the before hook reports, then run apply again"
	case step == StepHealth || step == StepWarmup:
		return OutcomeFailed, "it runs the new image but is not healthy: check the service on it; reimage leaves it as it is"
	case step == StepAfterHook:
		return OutcomeFailed, "it runs the new image and is healthy, but the after hook failed: finish its work by hand, then reimage ack it (until then later runs count it broken)"
	case step == StepStart || step == StepWaitStart:
		return OutcomeFailed, "it runs the new image but did not start again: the next apply starts it"
	case errors.Is(err, ErrErrorState):
		return OutcomeFailed, "the cloud shows it in an error state: repair it in the console, then run apply again"
	}
	return OutcomeFailed, "check the instance in the cloud's console, then run apply again to retry it"
}

// entries returns the recap of a run: blocked changes, the failures in the
// order they happened, then the instances left not started.
func (r *recap) entries(changes []plan.Change, todo []*item, why leftWhy) []RecapEntry {
	var out []RecapEntry
	for i := range changes {
		c := &changes[i]
		if c.Action != plan.ActionBlocked {
			continue
		}
		in := c.Instance
		out = append(out, RecapEntry{Provider: in.Provider, ID: in.ID, Name: in.Name, Outcome: OutcomeBlocked,
			Reason: c.Reason, Next: "remove the cause, then run apply again (plan shows it)"})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out = append(out, r.failed...)
	for _, it := range todo {
		if r.started[it.c] {
			continue
		}
		in := it.c.Instance
		out = append(out, RecapEntry{Provider: in.Provider, ID: in.ID, Name: in.Name, Outcome: OutcomeNotStarted,
			Reason: why.reason, Next: why.next})
	}
	return out
}

// withBrokenEarlier adds to a run's recap the instances earlier runs left
// broken that are still broken (the look-up may call them ok: they run their
// target but failed their health check or after hook), with what heals them.
func (e *Executor) withBrokenEarlier(out []RecapEntry, changes []plan.Change) []RecapEntry {
	if e.opts.Journal == nil {
		return out
	}
	listed := map[string]bool{}
	for i, r := range out {
		listed[plan.Key(r.Provider, r.ID)] = true
		// Blocked at look-up (an error state, stopped) because an earlier run broke
		// it: what clears it is the broken record, not the look-up's reason, which
		// no rerun removes.
		if r.Outcome != OutcomeBlocked {
			continue
		}
		if b := e.opts.Journal.Entry(r.Provider, r.ID).Broken; b != nil {
			out[i] = brokenEarlier(r.Provider, r.ID, r.Name, b)
		}
	}
	for i := range changes {
		in := changes[i].Instance
		b := e.opts.Journal.Entry(in.Provider, in.ID).Broken
		if b == nil || listed[plan.Key(in.Provider, in.ID)] {
			continue
		}
		out = append(out, brokenEarlier(in.Provider, in.ID, in.Name, b))
	}
	return out
}

// brokenEarlier is the recap entry of an instance an earlier run left broken.
func brokenEarlier(provider, id, name string, b *Record) RecapEntry {
	next := "check it by hand, then run reimage ack PLAN ID (one running again as it ran before is healed by the next apply)"
	switch b.Step {
	case StepHealth:
		next = "fix the service on it: the next apply heals it once a health check passes (or reimage ack PLAN ID)"
	case StepAfterHook:
		next = "finish the after hook's work by hand, then reimage ack PLAN ID"
	}
	return RecapEntry{Provider: provider, ID: id, Name: name, Outcome: OutcomeFailed,
		Reason: "broken by an earlier run: " + b.Reason, Next: next}
}

// leftWhy says why instances were left not started, and what to do.
type leftWhy struct{ reason, next string }

// notStarted explains the instances a run did not start.
func (e *Executor) notStarted(ctx context.Context) leftWhy {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.gates.stopReason != "":
		return leftWhy{e.gates.stopReason, e.gates.next}
	case e.halted:
		return leftWhy{"the run halted: more failures than maxFailures allows", "find out why the failed instances failed, then run apply again"}
	case ctx.Err() != nil || e.draining():
		return leftWhy{"the run was interrupted before it started", "run apply again"}
	}
	return leftWhy{"the run ended before it started", "run apply again"}
}
