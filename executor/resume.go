package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Resolve settles every instance that an earlier run left in doubt (an intent
// in the journal without an outcome), by asking the cloud, before anything is
// submitted again, each within rollout.instanceTimeout:
//   - a change the cloud shows under way or submitted is followed to its end and
//     recorded done or failed (and the instance started again if it ran);
//   - a change the cloud shows did not take (the instance idle on its old
//     image, or stopped by the earlier run before any submission) is left to
//     this run's diff, remembering that the instance ran before: Apply starts
//     it again if this run does not change it;
//   - a reinstall that may have reached the cloud and cannot be proven done is
//     recorded in doubt, never resubmitted blind: blocked until reimage ack.
//
// Instances no longer in the plan (or in this shard) are resolved too, so that
// no intent dangles and no instance an earlier run stopped stays stopped.
// Call it before the look-up whose diff Apply will make.
func (e *Executor) Resolve(ctx context.Context) error {
	j := e.opts.Journal
	if j == nil {
		return nil
	}
	inPlan := map[string]*plan.Instance{}
	for _, in := range e.opts.Plan.Instances {
		inPlan[plan.Key(in.Provider, in.ID)] = in
	}
	e.resumedRunning = map[string]bool{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(max(1, e.opts.Plan.Rollout.Concurrency))
	for _, rec := range j.Pending() {
		in := inPlan[plan.Key(rec.Provider, rec.ID)]
		if in == nil {
			// Not this plan's (or this shard's) any more: resolved on what
			// the journal says was asked of it.
			in = &plan.Instance{Provider: rec.Provider, ID: rec.ID, Image: rec.Image, Reinstall: rec.Token, Protect: true}
		}
		g.Go(func() error {
			running, err := e.resolveOne(ctx, rec, in)
			if running {
				mu.Lock()
				e.resumedRunning[plan.Key(rec.Provider, rec.ID)] = true
				mu.Unlock()
			}
			return err
		})
	}
	return g.Wait()
}

// resolveOne returns whether the instance may be stopped by the earlier run,
// its change did not take, and it ran before: it must run again, after this
// run's change or instead of it.
func (e *Executor) resolveOne(ctx context.Context, rec Record, in *plan.Instance) (bool, error) {
	prov := e.opts.Providers[rec.Provider]
	if prov == nil {
		// The plan no longer has the provider: nothing can be asked. The
		// intent stays, and plan keeps showing it.
		e.emit(Event{Type: EventResolve, Change: &plan.Change{Instance: in, Action: plan.ActionBlocked,
			Reason: fmt.Sprintf("left in doubt by an earlier run, but the plan has no provider %q any more", rec.Provider)}, Step: StepResolve})
		return false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, e.instanceTimeout())
	defer cancel()
	c := &plan.Change{Instance: in, Action: plan.ActionChange}
	if rec.Action == plan.ActionReinstall.String() {
		c.Action = plan.ActionReinstall
	}
	it := &item{c: c, wasRunning: rec.WasRunning}
	e.emit(Event{Type: EventResolve, Change: c, Step: StepResolve})
	sub := providers.Submission{InstanceID: rec.ID, ImageID: rec.Image, Reinstall: c.Action == plan.ActionReinstall, JobID: rec.JobID, RequestID: rec.RequestID}
	submitted := rec.JobID != "" || rec.RequestID != ""
	st, err := prov.Status(rctx, rec.ID)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, e.resolveUnknown(ctx, prov, it, rec, fmt.Errorf("resolve %s: %w", rec.ID, err))
	}
	if !submitted && rec.Reason == ReasonStopped {
		// Nothing was submitted.
		return e.stoppedEarlier(rec, st)
	}
	if c.Action == plan.ActionChange && rec.JobID == "" && st.State != providers.StateInProgress && st.Image != rec.Image {
		// Sent or not, accepted or not (no job to ask), and a cloud may
		// queue a change for seconds before the instance shows it (and a
		// client that did not submit it knows of no grace): as for a lost
		// answer in a run, only the whole settle window idle on the old
		// image proves that it did not take.
		target := *in
		target.Image = rec.Image
		taken, err := e.tookEffect(rctx, prov, &item{c: &plan.Change{Instance: &target, Action: plan.ActionChange}, wasRunning: rec.WasRunning},
			st.State == providers.StateRunning, errors.New("an earlier run stopped while submitting it"))
		if err != nil {
			if ctx.Err() != nil {
				return false, nil // still open; the next run tries again
			}
			return false, e.resolveUnknown(ctx, prov, it, rec, err)
		}
		if !taken {
			if st, err = prov.Status(rctx, rec.ID); err != nil {
				return false, e.resolveUnknown(ctx, prov, it, rec, fmt.Errorf("resolve %s: %w", rec.ID, err))
			}
			return e.stoppedEarlier(rec, st)
		}
		// It took: followed below.
	} else if !submitted {
		switch {
		case st.State == providers.StateInProgress:
			// Under way: it took.
		case c.Action == plan.ActionChange:
			// On the target image already: done.
		default:
			switch e.markers(rctx, prov, rec) {
			case markedNever:
				// Stopped before its intent marker was set: nothing was
				// submitted.
				return e.stoppedEarlier(rec, st)
			case markedDone:
				// Stopped after the done marker, before the journal's
				// record: followed below (it is idle), recorded done.
			default:
				return false, e.resolveUnknown(ctx, prov, it, rec, errors.New("reinstall in doubt: an earlier run stopped while submitting it and the instance shows no sign of it"))
			}
		}
	}
	inst, err := e.follow(rctx, prov, sub, waitKind{})
	if err != nil && inst.State == providers.StateStopped && errors.Is(err, errChangeFailed) {
		// The cloud ended the job failed with the server shut off, as in
		// the run's own steps: a change that left the old image did not
		// happen and the instance must run again; a reinstall stays in
		// doubt, but is started again either way.
		if c.Action == plan.ActionChange && inst.Image != rec.Image {
			return e.stoppedEarlier(rec, inst)
		}
		err = e.startAgain(ctx, prov, it, err, func(string) {})
	}
	if err == nil {
		err = e.startIfNeeded(rctx, prov, it, inst, func(string) {})
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, nil // still open; the next run tries again
		}
		return false, e.resolveUnknown(ctx, prov, it, rec, err)
	}
	var reason string
	if merr := e.markDone(ctx, prov, rec.ID, rec.Token); merr != nil {
		reason = "; done marker not set: " + merr.Error()
	}
	if jerr := e.journal(Record{Event: EventDone, Provider: rec.Provider, ID: rec.ID, Image: rec.Image, Token: rec.Token, Reason: "resolved" + reason}); jerr != nil {
		return false, jerr
	}
	e.mu.Lock()
	e.sum.Resolved++
	e.mu.Unlock()
	return false, nil
}

// markerProof is what an instance's markers prove about a reinstall intent
// with no submission recorded.
type markerProof int

const (
	markedUnknown markerProof = iota
	// markedNever: the reinstall was never submitted.
	markedNever
	// markedDone: the token was carried out (or acknowledged).
	markedDone
)

// markers reads what the instance's markers prove about the reinstall of
// intent rec, which has no submission recorded. The done marker holding the
// token proves it done: only a completed reinstall or a person's ack sets it.
// Every submission comes after its intent marker is set (markIntent), and
// markers are only ever overwritten, never removed, so an instance that shows
// no intent since the last token this journal saw done (no intent marker at
// all, or intent and done markers both holding that token) was never
// submitted to. Anything else (this token's intent open, a marker closed by a
// refusal, a token this journal does not know, an error reading them) may
// hide this reinstall: unknown, so it stays in doubt.
func (e *Executor) markers(ctx context.Context, prov providers.Provider, rec Record) markerProof {
	m, ok := prov.(providers.Marker)
	if !ok || rec.Token == "" {
		return markedUnknown
	}
	marks, err := m.Marks(ctx, []string{rec.ID})
	if err != nil {
		return markedUnknown
	}
	mk := marks[rec.ID]
	enc := EncodeToken(rec.Token)
	if mk[MarkReinstall] == enc {
		return markedDone
	}
	intent := mk[MarkIntent]
	if intent == "" {
		return markedNever
	}
	done := e.opts.Journal.Entry(rec.Provider, rec.ID).DoneToken
	if done != "" && intent == EncodeToken(done) && mk[MarkReinstall] == intent {
		return markedNever
	}
	return markedUnknown
}

// stoppedEarlier handles an instance whose earlier change did not happen: if
// it runs (or is gone) its intent is closed; otherwise it stays open and the
// instance must run again.
func (e *Executor) stoppedEarlier(rec Record, st providers.Instance) (bool, error) {
	if !rec.WasRunning || st.State == providers.StateRunning || st.State == providers.StateNotFound {
		return false, e.journal(Record{Event: EventRestored, Provider: rec.Provider, ID: rec.ID,
			Reason: "its change did not happen; found " + string(st.RawState)})
	}
	return true, nil
}

// resolveUnknown records what could not be settled, by the model of
// recordFailure: a reinstall that may have happened is in doubt, a change
// failed; either may be broken.
func (e *Executor) resolveUnknown(ctx context.Context, prov providers.Provider, it *item, rec Record, cause error) error {
	e.mu.Lock()
	e.sum.Resolved++
	e.mu.Unlock()
	step := StepWaitDone
	if rec.JobID == "" && rec.RequestID == "" && it.c.Action == plan.ActionReinstall {
		// Submitted or not, nobody knows: as a lost answer.
		cause = &providers.InDoubtError{Cause: cause}
		step = StepSubmit
	}
	var se *stepError
	if !errors.As(cause, &se) {
		cause = &stepError{step, cause}
	}
	_, err := e.recordFailure(ctx, prov, it, cause)
	return err
}
