// Package operation holds what reimage's commands do, as values a program can
// run and a test can drive: Review (the look-up and diff of `plan`) and Apply
// (lock → journal → look-up → pre-flight → review → confirm → resolve the
// runs before → relook → run). The command line parses flags, picks a view and
// a confirmation, and maps the errors returned here to exit codes; the engine
// (package executor) carries out the changes.
package operation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Fleet is what an operation acts on: a loaded plan (or a saved plan and the
// plan file it was made from), how the run narrows it, and a client per
// provider. Build it with NewFleet; an operation resolves it once.
type Fleet struct {
	// Plan is what the run acts on: Full resolved, narrowed to the targeted
	// instances and the shard, with the rollout overrides. Until the first
	// look-up it is the shard of Full's listed instances.
	Plan *plan.Plan
	// Full is the plan as loaded; resolving adds its selected instances.
	Full *plan.Plan
	// Saved is the reviewed change set being applied (nil for a YAML plan).
	Saved     *plan.Saved
	Shard     plan.Shard
	Narrowing Narrowing
	// Providers by the plan's provider name.
	Providers map[string]providers.Provider
	// Secret resolves login passwords (pre-flight, the run);
	// plan.SecretRef.Resolve when nil.
	Secret func(*plan.SecretRef) (string, error)
	// Endpoints: where each provider's calls go (plan.EndpointOf), which a
	// saved plan binds.
	Endpoints map[string]string

	resolved bool
	// listed is what the selectors' listings said of the instances they chose,
	// for the first look-up (see lookup).
	listed map[string]providers.Instance
}

// NewFleet returns the fleet of plan full (and saved, when a saved plan is
// applied) in shard, before resolving.
func NewFleet(full *plan.Plan, saved *plan.Saved, shard plan.Shard, n Narrowing) *Fleet {
	return &Fleet{Plan: full.Select(shard), Full: full, Saved: saved, Shard: shard, Narrowing: n}
}

// NarrowingError is a -target or -exclude that the plan cannot satisfy (a
// pattern that matches nothing): a mistake on the command line.
type NarrowingError struct{ Err error }

func (e *NarrowingError) Error() string { return e.Err.Error() }

// Unwrap returns the plan's error.
func (e *NarrowingError) Unwrap() error { return e.Err }

// catalog answers a plan's selectors and image names with the clouds' own
// look-ups (providers.Lister, providers.Preflighter).
type catalog struct {
	plan      *plan.Plan
	providers map[string]providers.Provider
	// listed keeps what the listings said of each instance, by plan.Key;
	// selectors list at once, so mu guards it.
	mu     *sync.Mutex
	listed map[string]providers.Instance
}

func (c catalog) List(ctx context.Context, provider string, s *plan.Selector) ([]plan.Found, error) {
	l, ok := c.providers[provider].(providers.Lister)
	if !ok {
		return nil, fmt.Errorf("provider %q (%s) cannot list instances, so select cannot be used with it", provider, c.plan.Providers[provider].Type)
	}
	list, err := l.List(ctx, providers.Filter{Tags: s.Where.Tags, Name: s.Where.Name, Zone: s.Where.Zone})
	if err != nil {
		return nil, err
	}
	out := make([]plan.Found, len(list))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, in := range list {
		out[i] = plan.Found{ID: in.ID, Name: in.Name}
		c.listed[plan.Key(provider, in.ID)] = in
	}
	return out, nil
}

func (c catalog) ImagesByName(ctx context.Context, provider, name string) ([]string, error) {
	pf, ok := c.providers[provider].(providers.Preflighter)
	if !ok {
		return nil, fmt.Errorf("provider %q (%s) cannot look images up by name; give the image id", provider, c.plan.Providers[provider].Type)
	}
	images, err := pf.ImagesByName(ctx, name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(images))
	for i, im := range images {
		ids[i] = im.ID
	}
	return ids, nil
}

// Resolve turns the plan's selectors and image names into instances and ids
// (from the clouds, or from what a saved plan froze), then narrows it to the
// targeted instances and the shard and applies the rollout overrides. It runs
// once, before the first look-up; later calls do nothing.
func (f *Fleet) Resolve(ctx context.Context) error {
	if f.resolved {
		return nil
	}
	full := f.Full
	if full.NeedsResolve() {
		var c plan.Catalog
		if f.Saved != nil {
			c = f.Saved.Frozen.Catalog()
		} else {
			cc := catalog{plan: full, providers: f.Providers, mu: &sync.Mutex{}, listed: map[string]providers.Instance{}}
			f.listed, c = cc.listed, cc
		}
		if err := full.Resolve(ctx, c); err != nil {
			return err
		}
	}
	targeted, err := full.Target(f.Narrowing.Targeting())
	if err != nil {
		return &NarrowingError{Err: err}
	}
	f.Plan = targeted.Select(f.Shard)
	if f.Plan == full {
		// Overrides must not reach the plan others see as the file's.
		q := *full
		f.Plan = &q
	}
	f.Narrowing.override(f.Plan)
	f.resolved = true
	return nil
}

// Save returns the saved plan of cs, a change set of f (Review): what was
// reviewed, with the resolution, the narrowing and the endpoints it was
// reviewed against, for apply to apply exactly that.
func (f *Fleet) Save(cs plan.ChangeSet, now time.Time) *plan.Saved {
	s := cs.Save(f.Full.SHA256, now)
	s.Frozen = f.Frozen()
	s.Endpoints = f.Endpoints
	return s
}

// Frozen is what a saved plan of this run records: the resolution and the
// narrowing.
func (f *Fleet) Frozen() plan.Frozen {
	fr := f.Narrowing.Frozen()
	fr.FreezeResolution(f.Full)
	return fr
}

// lookup observes the plan's instances: those a selector's listing returned
// moments ago are taken from it, once (a later look-up, after resolving
// instances in doubt, asks again), and only the others are looked up, so that
// selecting N instances costs the listing and no second pass over them.
func (f *Fleet) lookup(ctx context.Context) (map[string]plan.Observed, error) {
	listed := f.listed
	f.listed = nil
	if len(listed) == 0 {
		return executor.Lookup(ctx, f.Plan, f.Providers, nil)
	}
	known := map[string]plan.Observed{}
	rest := []*plan.Instance{}
	for _, in := range f.Plan.Instances {
		k := plan.Key(in.Provider, in.ID)
		if li, ok := listed[k]; ok {
			known[k] = executor.Observe(li)
		} else {
			rest = append(rest, in)
		}
	}
	if len(rest) == 0 {
		return known, nil
	}
	obs, err := executor.Lookup(ctx, f.Plan, f.Providers, rest)
	if err != nil {
		return nil, err
	}
	maps.Copy(obs, known)
	return obs, nil
}

// AdoptScope is what a run of the fleet may take over from the other journals
// of its state directory (executor.AdoptOthers), or what `plan` shows of them
// (executor.ReadWithOthers). Call it once the plan is resolved.
func (f *Fleet) AdoptScope() executor.AdoptScope {
	return executor.AdoptScope{Plan: f.Plan.Name, PlanPath: executor.PlanPath(f.Plan), Run: f.Plan.Instances, Full: f.Full.Instances}
}

// diff looks the instances up, and the markers of those with a reinstall
// token, and diffs them with what the journal j recorded. The plan is resolved
// (selectors, image names, -target) first.
func (f *Fleet) diff(ctx context.Context, j *executor.Journal) ([]plan.Change, error) {
	if err := f.Resolve(ctx); err != nil {
		return nil, err
	}
	obs, err := f.lookup(ctx)
	if err != nil {
		return nil, err
	}
	marks, err := executor.ReadMarks(ctx, f.Plan, f.Providers)
	if err != nil {
		return nil, err
	}
	return plan.DiffHistory(f.Plan, obs, executor.HistoryOf(f.Plan, j, marks)), nil
}

// ErrStale is wrapped by the error of a saved plan whose fleet changed since
// it was reviewed.
var ErrStale = errors.New("saved plan is stale")

// lookupAndDiff looks every instance up and computes the changes; for a saved
// plan, it refuses a fleet that changed since (stale) and keeps only the saved
// changes.
func (f *Fleet) lookupAndDiff(ctx context.Context, j *executor.Journal) ([]plan.Change, error) {
	changes, err := f.diff(ctx, j)
	if err != nil || f.Saved == nil {
		return changes, err
	}
	if stale := f.Saved.Stale(changes); len(stale) > 0 {
		return nil, fmt.Errorf("%w: the fleet has changed since it was made:\n  %s\nRun reimage plan -out again", ErrStale, strings.Join(stale, "\n  "))
	}
	return f.Saved.Restrict(changes), nil
}

// relook is lookupAndDiff without the stale check, for the look-up after an
// earlier run's instances in doubt were resolved: they changed because of
// that, not behind the reviewer's back.
func (f *Fleet) relook(ctx context.Context, j *executor.Journal) ([]plan.Change, error) {
	changes, err := f.diff(ctx, j)
	if err != nil || f.Saved == nil {
		return changes, err
	}
	return f.Saved.Restrict(changes), nil
}

// preflight runs the checks before any change (executor.Preflight) on the
// changes just looked up: it blocks the instances whose image, key pair or
// login password (one that does not resolve or breaks its cloud's policy)
// fails, with the reason.
func (f *Fleet) preflight(ctx context.Context, changes []plan.Change) (executor.PreflightResult, error) {
	return executor.Preflight(ctx, f.Providers, changes, f.Secret)
}

// changeSet is the look-up and diff of the fleet, checked before any change,
// with the count of calls j holds in doubt.
func (f *Fleet) changeSet(ctx context.Context, j *executor.Journal) (plan.ChangeSet, executor.PreflightResult, error) {
	changes, err := f.lookupAndDiff(ctx, j)
	if err != nil {
		return plan.ChangeSet{}, executor.PreflightResult{}, err
	}
	pre, err := f.preflight(ctx, changes)
	if err != nil {
		return plan.ChangeSet{}, executor.PreflightResult{}, err
	}
	// Pending counts the calls of instances in the plan or not: apply
	// resolves both (an instance removed from the plan or the shard since may
	// have been stopped by reimage).
	return plan.ChangeSet{Plan: f.Plan, Shard: f.Shard, Changes: changes, Pending: len(j.Pending())}, pre, nil
}
