package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/reimage-dev/reimage/executor/internal/probe"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Steps of the rollout gates an instance goes through (events, journal reasons).
const (
	StepBeforeHook = "before_hook"
	StepWarmup     = "warmup"
	StepHealth     = "health"
	StepAfterHook  = "after_hook"
)

// vars returns the template fields of an instance, asking the cloud for its
// private address when the rollout's gates need one.
func (e *Executor) vars(ctx context.Context, prov providers.Provider, in *plan.Instance, known providers.Instance) plan.TemplateVars {
	v := plan.TemplateVars{ID: in.ID, Name: in.Name, Provider: in.Provider, Image: in.Image, PrivateIP: known.PrivateIP}
	if v.PrivateIP == "" {
		if st, err := prov.Status(ctx, in.ID); err == nil {
			v.PrivateIP = st.PrivateIP
		}
	}
	return v
}

// needsVars reports whether the rollout runs anything per instance that uses its fields.
func needsVars(r plan.Rollout) bool {
	return r.Health != nil || r.Hooks.Before != nil || r.Hooks.After != nil
}

// afterChange proves a changed instance: health (warmup, then checks until
// healthy or timeout), then the after hook. Its error fails the instance, which
// was changed and is left as it is.
func (e *Executor) afterChange(ctx context.Context, prov providers.Provider, in *plan.Instance, known providers.Instance, step func(string)) error {
	r := e.opts.Plan.Rollout
	if !needsVars(r) || r.Health == nil && r.Hooks.After == nil {
		return nil
	}
	v := e.vars(ctx, prov, in, known)
	if h := r.Health; h != nil {
		if h.Warmup > 0 {
			step(StepWarmup)
			if !sleep(ctx, h.Warmup, nil) {
				return &stepError{StepWarmup, ctx.Err()}
			}
		}
		step(StepHealth)
		if err := probe.AwaitHealthy(ctx, h, v); err != nil {
			return &stepError{StepHealth, err}
		}
	}
	if hk := r.Hooks.After; hk != nil {
		step(StepAfterHook)
		if err := probe.RunHook(ctx, hk, v); err != nil {
			return &stepError{StepAfterHook, err}
		}
	}
	return nil
}

// beforeChange runs the before hook; its error leaves the instance untouched.
func (e *Executor) beforeChange(ctx context.Context, prov providers.Provider, in *plan.Instance, step func(string)) error {
	hk := e.opts.Plan.Rollout.Hooks.Before
	if hk == nil {
		return nil
	}
	step(StepBeforeHook)
	if err := probe.RunHook(ctx, hk, e.vars(ctx, prov, in, providers.Instance{})); err != nil {
		return &stepError{StepBeforeHook, fmt.Errorf("%w; the instance was not touched", err)}
	}
	return nil
}

// failChanged records an instance that was changed but then failed its health
// check or after hook: a failure against the budget, left as it is.
func (e *Executor) failChanged(it *item, w, waves int, err error, elapsed time.Duration) error {
	in := it.c.Instance
	if jerr := e.journal(Record{Event: EventFailed, Provider: in.Provider, ID: in.ID, Image: in.Image, Reason: err.Error()}); jerr != nil {
		return jerr
	}
	// It runs its target, so the next look-up calls it ok: the journal keeps
	// it broken, so that a rerun neither forgets the failure nor converges over
	// it, until a health check passes (provenHealthy) or, after a failed after
	// hook, whose work only a person can finish, until reimage ack.
	step, why := StepHealth, "unhealthy after its change: "
	if lastStep(err) == StepAfterHook {
		step, why = StepAfterHook, "its after hook failed: "
	} else if s := lastStep(err); s != StepHealth && s != StepWarmup {
		step = ""
	}
	if step != "" {
		if jerr := e.journal(Record{Event: EventBroken, Provider: in.Provider, ID: in.ID, Image: in.Image, Step: step,
			WasRunning: it.wasRunning, Reason: why + err.Error()}); jerr != nil {
			return jerr
		}
	}
	e.mu.Lock()
	e.sum.Failed++
	e.failures++
	e.mu.Unlock()
	e.emit(Event{Type: EventInstanceFail, Wave: w, Waves: waves, Change: it.c, Err: err, Elapsed: elapsed})
	return nil
}

// provenHealthy reports whether an instance recorded broken may be called
// healed, beyond what the look-up shows: one its health check found unhealthy
// must pass one check now (the plan's check; with none left in the plan,
// there is nothing to prove); one whose after hook failed never is (only
// reimage ack clears it).
func (e *Executor) provenHealthy(ctx context.Context, c *plan.Change, broken *Record) bool {
	if broken.Step == StepAfterHook {
		return false
	}
	h := e.opts.Plan.Rollout.Health
	if broken.Step != StepHealth || h == nil {
		return true
	}
	prov := e.opts.Providers[c.Instance.Provider]
	if prov == nil {
		return false
	}
	bound := max(h.Interval, 500*time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	return probe.Check(cctx, h, e.vars(cctx, prov, c.Instance, providers.Instance{})) == nil
}
