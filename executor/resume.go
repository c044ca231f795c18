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

// Resolve settles every instance of the plan that an earlier run left in doubt
// (an intent in the journal without an outcome), by asking the cloud, before
// anything is submitted again:
//   - a change the cloud shows under way or submitted is followed to its end and
//     recorded done or failed (and the instance started again if it ran);
//   - a change the cloud shows did not take (the instance idle on its old
//     image, or stopped by the earlier run before any submission) is left to
//     this run's diff, remembering that the instance ran before;
//   - a reinstall whose submission is unknown cannot be told from one that
//     never happened, so it is recorded failed as in doubt, never resubmitted blind.
//
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
			continue // not this plan's (or not this shard's) any more: left as it is
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

// resolveOne returns whether the instance must still be changed and started
// afterwards (its earlier call did not take and it ran before).
func (e *Executor) resolveOne(ctx context.Context, rec Record, in *plan.Instance) (bool, error) {
	prov := e.opts.Providers[rec.Provider]
	if prov == nil {
		return false, fmt.Errorf("resolve %s: no client for provider %q", rec.ID, rec.Provider)
	}
	c := &plan.Change{Instance: in, Action: plan.ActionChange}
	if rec.Action == plan.ActionReinstall.String() {
		c.Action = plan.ActionReinstall
	}
	it := &item{c: c, wasRunning: rec.WasRunning}
	e.emit(Event{Type: EventResolve, Change: c, Step: StepResolve})
	sub := providers.Submission{InstanceID: rec.ID, ImageID: rec.Image, Reinstall: c.Action == plan.ActionReinstall, JobID: rec.JobID, RequestID: rec.RequestID}
	submitted := rec.JobID != "" || rec.RequestID != ""
	if !submitted {
		if rec.Reason == "stop" {
			// Stopped (perhaps) by the earlier run; nothing was submitted.
			return rec.WasRunning, nil
		}
		st, err := prov.Status(ctx, rec.ID)
		if err != nil {
			return false, e.resolveFailed(rec, fmt.Errorf("resolve %s: %w", rec.ID, err))
		}
		switch {
		case st.State == providers.StateInProgress:
			// Under way: it took.
		case c.Action == plan.ActionChange && st.Image == rec.Image:
			// Done already.
		case c.Action == plan.ActionChange:
			return rec.WasRunning, nil
		default:
			return false, e.resolveFailed(rec, errors.New("reinstall in doubt: an earlier run crashed while submitting it and the instance shows no sign of it; check it by hand, then use a new reinstall token"))
		}
	}
	inst, err := e.follow(ctx, prov, sub, "")
	if err == nil {
		err = e.startIfNeeded(ctx, prov, it, inst, func(string) {})
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, nil // still in doubt; the next run tries again
		}
		return false, e.resolveFailed(rec, err)
	}
	token := rec.Token
	if jerr := e.journal(Record{Event: EventDone, Provider: rec.Provider, ID: rec.ID, Image: rec.Image, Token: token, Reason: "resolved"}); jerr != nil {
		return false, jerr
	}
	e.mu.Lock()
	e.sum.Resolved++
	e.mu.Unlock()
	return false, nil
}

func (e *Executor) resolveFailed(rec Record, cause error) error {
	if err := e.journal(Record{Event: EventFailed, Provider: rec.Provider, ID: rec.ID, Image: rec.Image, Reason: cause.Error()}); err != nil {
		return err
	}
	e.mu.Lock()
	e.sum.Resolved++
	e.mu.Unlock()
	return nil
}
