package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// statusAfterFailure bounds the one status read that tells whether a failed
// change left the instance broken.
const statusAfterFailure = time.Minute

// recordFailure journals an instance whose change failed, by what is known of
// its outcome (the journal's model of an instance):
//   - a reinstall that reached the cloud, or may have, and was not proven done
//     is in doubt: never submitted again, blocked until acknowledged;
//   - an instance reimage's change left in an error state, or stopped and not
//     started again, is broken;
//   - any other failure closes the intent as failed, keeping was_running so
//     that a later run starts the instance again if it stays stopped;
//   - a failure in starting the instance after its change leaves the intent
//     open, so that the next run starts it.
//
// ctx is the run's context: the instance's own may have expired. It returns
// the failure as people should read it, and the error of the journal, if any.
func (e *Executor) recordFailure(ctx context.Context, prov providers.Provider, it *item, cause error) (error, error) {
	in := it.c.Instance
	step := lastStep(cause)
	afterChange := step == StepStart || step == StepWaitStart
	reached := afterChange || step == StepWaitDone || (step == StepSubmit && providers.IsInDoubt(cause))
	reinstall := it.c.Action == plan.ActionReinstall
	action := it.c.Action.String()

	var st providers.Instance
	if reached {
		sctx, cancel := context.WithTimeout(ctx, statusAfterFailure)
		st, _ = prov.Status(sctx, in.ID) // unknown on error: not called broken
		cancel()
	}
	switch {
	case afterChange:
		// The change is done; the intent stays open for the next run's start.
		if reinstall {
			_ = e.markDone(ctx, prov, in.ID, in.Reinstall)
		}
	case reinstall && reached:
		if err := e.journal(Record{Event: EventInDoubt, Provider: in.Provider, ID: in.ID, Action: action, Image: in.Image,
			Token: in.Reinstall, WasRunning: it.wasRunning, Reason: cause.Error()}); err != nil {
			return cause, err
		}
		if !strings.Contains(cause.Error(), "reinstall in doubt") {
			cause = fmt.Errorf("reinstall in doubt, never submitted again: check it by hand, then run reimage ack: %w", cause)
		}
		cause = markAs(ErrInDoubt, cause) // as the journal now records it
	default:
		if !reached && reinstall {
			if err := e.closeIntent(ctx, prov, it); err != nil {
				cause = fmt.Errorf("%w; %v", cause, err)
			}
		}
		if err := e.journal(Record{Event: EventFailed, Provider: in.Provider, ID: in.ID, Action: action, Image: in.Image,
			Token: in.Reinstall, WasRunning: it.wasRunning && st.State != providers.StateError, Reason: cause.Error()}); err != nil {
			return cause, err
		}
	}
	if why := brokenBy(st, it.wasRunning, reached); why != "" {
		return cause, e.journal(Record{Event: EventBroken, Provider: in.Provider, ID: in.ID, Action: action, Image: in.Image,
			WasRunning: it.wasRunning, Reason: why + " after " + cause.Error()})
	}
	return cause, nil
}

// brokenBy says how an instance is broken after reimage's change reached it
// ("" when it is not, or when that is unknown).
func brokenBy(st providers.Instance, wasRunning, reached bool) string {
	switch {
	case !reached:
		return ""
	case st.State == providers.StateError:
		return fmt.Sprintf("in an error state (%s)%s", st.RawState, faultSuffix(st))
	case st.State == providers.StateStopped && wasRunning:
		return "stopped and not started again"
	}
	return ""
}

// healthy reports whether an instance recorded broken is healthy again, as
// the look-up saw it: out of any error state, and running if it ran before.
func healthy(o plan.Observed, broken *Record) bool {
	switch {
	case !o.Found, o.Power == plan.PowerError, o.Power == plan.PowerBusy, o.Power == plan.PowerUnknown:
		return false
	case o.Power == plan.PowerStopped && broken.WasRunning:
		return false
	}
	return true
}

// settleEarlier deals, before this run's own changes, with what earlier runs
// left: it starts again the instances an earlier run stopped whose change this
// run will not make (protected, removed from the plan or the shard, blocked,
// ok since), and counts the instances earlier runs broke, healed ones apart,
// and those in doubt: both keep the run from converging, and broken ones count
// against maxFailures.
func (e *Executor) settleEarlier(ctx context.Context, changes []plan.Change) error {
	byKey := make(map[string]*plan.Change, len(changes))
	for i := range changes {
		c := &changes[i]
		byKey[plan.Key(c.Instance.Provider, c.Instance.ID)] = c
	}
	for _, key := range sortedKeys(e.resumedRunning) {
		if c := byKey[key]; c != nil && c.Action.Mutates() {
			continue // the change carries the start
		}
		if err := e.restore(ctx, key); err != nil {
			return err
		}
	}
	if e.opts.Journal == nil {
		return nil
	}
	broken, inDoubt := 0, 0
	for i := range changes {
		c := &changes[i]
		if c.InDoubt {
			inDoubt++
		}
		ent := e.opts.Journal.Entry(c.Instance.Provider, c.Instance.ID)
		if ent.Broken == nil {
			continue
		}
		if healthy(c.Observed, ent.Broken) && ent.Pending == nil && e.provenHealthy(ctx, c, ent.Broken) {
			if err := e.journal(Record{Event: EventHealed, Provider: c.Instance.Provider, ID: c.Instance.ID, Reason: "seen " + c.Observed.Raw}); err != nil {
				return err
			}
			continue
		}
		broken++
	}
	e.mu.Lock()
	e.sum.Broken += broken
	e.sum.InDoubt += inDoubt
	e.failures += broken
	e.mu.Unlock()
	return nil
}

// RestoreEarlier starts again every instance an earlier run stopped that
// Resolve left for this run's change to start, for a run that makes no
// change at all (refused before it began): no change will start them.
func (e *Executor) RestoreEarlier(ctx context.Context) error {
	var errs []error
	for _, key := range sortedKeys(e.resumedRunning) {
		errs = append(errs, e.restore(ctx, key))
	}
	return errors.Join(errs...)
}

// restore starts an instance an earlier run stopped whose change will not be
// made, and closes its intent; failing that, the instance is broken.
func (e *Executor) restore(ctx context.Context, key string) error {
	provider, id := splitKey(key)
	prov := e.opts.Providers[provider]
	if prov == nil {
		return nil // Resolve kept it open and said why
	}
	c := &plan.Change{Instance: &plan.Instance{Provider: provider, ID: id}, Action: plan.ActionOK}
	e.emit(Event{Type: EventResolve, Change: c, Step: StepStart})
	rctx, cancel := context.WithTimeout(ctx, e.instanceTimeout())
	defer cancel()
	it := &item{c: c, wasRunning: true}
	st, err := prov.Status(rctx, id)
	if err == nil && st.State == providers.StateNotFound {
		return e.journal(Record{Event: EventRestored, Provider: provider, ID: id, Reason: "its change did not happen; the instance no longer exists"})
	}
	if err == nil {
		err = e.startIfNeeded(rctx, prov, it, st, func(string) {})
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // still open; the next run tries again
		}
		e.mu.Lock()
		e.sum.Broken++
		e.failures++
		e.mu.Unlock()
		return e.journal(Record{Event: EventBroken, Provider: provider, ID: id, WasRunning: true,
			Reason: "stopped by an earlier run and not started again: " + err.Error()})
	}
	return e.journal(Record{Event: EventRestored, Provider: provider, ID: id, Reason: "its change did not happen; started again"})
}

func (e *Executor) instanceTimeout() time.Duration {
	if t := e.opts.Plan.Rollout.InstanceTimeout; t > 0 {
		return t
	}
	return plan.DefaultInstanceTimeout
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
