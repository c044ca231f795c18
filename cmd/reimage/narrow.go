package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/reimage-dev/reimage/executor"
	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// patternList is a repeatable flag of glob patterns (-target, -exclude).
type patternList []string

func (l *patternList) String() string { return strings.Join(*l, ",") }

func (l *patternList) Set(s string) error {
	if s == "" {
		return fmt.Errorf("empty pattern")
	}
	*l = append(*l, s)
	return nil
}

// narrowFlags are the flags that narrow a run or change its pace without
// changing its plan: the journal, lock and reinstall tokens stay the plan's.
type narrowFlags struct {
	target, exclude patternList
	concurrency     int
	maxFailures     string
}

func (n *narrowFlags) register(fs *flag.FlagSet) {
	fs.Var(&n.target, "target", "act only on instances whose id or name matches the glob `PATTERN` (repeatable; * ? [a-z])")
	fs.Var(&n.exclude, "exclude", "leave out instances whose id or name matches the glob `PATTERN` (repeatable)")
	fs.IntVar(&n.concurrency, "concurrency", 0, "instances in flight at once, instead of the plan's rollout.concurrency")
	fs.StringVar(&n.maxFailures, "max-failures", "", "failures tolerated (`N or N%`), instead of the plan's rollout.maxFailures")
}

func (n *narrowFlags) targeting() plan.Targeting {
	return plan.Targeting{Include: n.target, Exclude: n.exclude}
}

// frozen is what a saved plan records of the narrowing flags.
func (n *narrowFlags) frozen() plan.Frozen {
	return plan.Frozen{Target: n.target, Exclude: n.exclude, Concurrency: n.concurrency, MaxFailures: n.maxFailures}
}

// check refuses malformed flags before anything else happens.
func (n *narrowFlags) check() error {
	if err := n.targeting().Check(); err != nil {
		return usagef("", "%v", err)
	}
	if n.concurrency < 0 {
		return usagef("", "-concurrency %d: want at least 1", n.concurrency)
	}
	if n.maxFailures != "" {
		if _, err := plan.ParseSize(n.maxFailures); err != nil {
			return usagef("", "-max-failures %v", err)
		}
	}
	return nil
}

// adoptSaved takes a saved plan's narrowing: a saved plan is exactly what was
// reviewed, so flags that would narrow it differently are refused rather than
// silently applied or ignored.
func (n *narrowFlags) adoptSaved(path string, s *plan.Saved) error {
	given := !n.targeting().IsZero() || n.concurrency != 0 || n.maxFailures != ""
	if given && (!slices.Equal(n.target, s.Target) || !slices.Equal(n.exclude, s.Exclude) ||
		n.concurrency != s.Concurrency || n.maxFailures != s.MaxFailures) {
		return usagef("", "saved plan %s was made with %s; it is applied as it was reviewed: drop the flags, or make a new plan with them", path, describeNarrowing(s.Frozen))
	}
	n.target, n.exclude, n.concurrency, n.maxFailures = s.Target, s.Exclude, s.Concurrency, s.MaxFailures
	return nil
}

func describeNarrowing(f plan.Frozen) string {
	var parts []string
	for _, t := range f.Target {
		parts = append(parts, "-target "+strconv.Quote(t))
	}
	for _, t := range f.Exclude {
		parts = append(parts, "-exclude "+strconv.Quote(t))
	}
	if f.Concurrency != 0 {
		parts = append(parts, fmt.Sprintf("-concurrency %d", f.Concurrency))
	}
	if f.MaxFailures != "" {
		parts = append(parts, "-max-failures "+f.MaxFailures)
	}
	if len(parts) == 0 {
		return "no -target, -exclude, -concurrency or -max-failures"
	}
	return strings.Join(parts, " ")
}

// override applies -concurrency and -max-failures to the plan's rollout.
func (n *narrowFlags) override(p *plan.Plan) {
	if n.concurrency == 0 && n.maxFailures == "" {
		return
	}
	nw := plan.Narrowing{Of: len(p.Instances)}
	if p.Narrowing != nil {
		nw = *p.Narrowing
	}
	if n.concurrency > 0 {
		p.Rollout.Concurrency, nw.Concurrency = n.concurrency, true
	}
	if n.maxFailures != "" {
		p.Rollout.MaxFailures, _ = plan.ParseSize(n.maxFailures) // checked by check
		nw.MaxFailures = true
	}
	p.Narrowing = &nw
}

// cloudCatalog answers a plan's selectors and image names with the clouds'
// own look-ups (providers.Lister, providers.Preflighter).
type cloudCatalog struct {
	plan      *plan.Plan
	providers map[string]providers.Provider
	// listed keeps what the listings said of each instance, by plan.Key;
	// selectors list at once, so mu guards it.
	mu     *sync.Mutex
	listed map[string]providers.Instance
}

func (c cloudCatalog) List(ctx context.Context, provider string, s *plan.Selector) ([]plan.Found, error) {
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

func (c cloudCatalog) ImagesByName(ctx context.Context, provider, name string) ([]string, error) {
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

// resolve turns the plan's selectors and image names into instances and ids
// (from the clouds, or from what a saved plan froze), then narrows it to the
// targeted instances and the shard and applies the rollout overrides. It runs
// once, before the first look-up.
func (f *fleet) resolve(ctx context.Context) error {
	if f.resolved {
		return nil
	}
	full := f.full
	if full.NeedsResolve() {
		var c plan.Catalog
		if f.saved != nil {
			c = f.saved.Frozen.Catalog()
		} else {
			cc := cloudCatalog{plan: full, providers: f.providers, mu: &sync.Mutex{}, listed: map[string]providers.Instance{}}
			f.listed, c = cc.listed, cc
		}
		if err := full.Resolve(ctx, c); err != nil {
			return err
		}
	}
	targeted, err := full.Target(f.narrow.targeting())
	if err != nil {
		return usagef("", "%v", err)
	}
	f.plan = targeted.Select(f.shard)
	if f.plan == full {
		// Overrides must not reach the plan others see as the file's.
		q := *full
		f.plan = &q
	}
	f.narrow.override(f.plan)
	f.resolved = true
	return nil
}

// frozen is what a saved plan of this run records: the resolution and the
// narrowing flags.
func (f *fleet) frozen() plan.Frozen {
	fr := f.narrow.frozen()
	fr.FreezeResolution(f.full)
	return fr
}

// lookup observes the plan's instances: those a selector's listing returned
// moments ago are taken from it, once (a later look-up, after resolving
// instances in doubt, asks again), and only the others are looked up, so that
// selecting N instances costs the listing and no second pass over them.
func (f *fleet) lookup(ctx context.Context) (map[string]plan.Observed, error) {
	listed := f.listed
	f.listed = nil
	if len(listed) == 0 {
		return executor.Lookup(ctx, f.plan, f.providers, nil)
	}
	known := map[string]plan.Observed{}
	rest := []*plan.Instance{}
	for _, in := range f.plan.Instances {
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
	obs, err := executor.Lookup(ctx, f.plan, f.providers, rest)
	if err != nil {
		return nil, err
	}
	maps.Copy(obs, known)
	return obs, nil
}
