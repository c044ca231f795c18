package executor

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Lookup asks every provider, concurrently and in batch calls, for the current
// state of the plan's instances (or of the subset given), keyed by plan.Key.
func Lookup(ctx context.Context, p *plan.Plan, provs map[string]providers.Provider, instances []*plan.Instance) (map[string]plan.Observed, error) {
	if instances == nil {
		instances = p.Instances
	}
	byProvider := map[string][]string{}
	for _, in := range instances {
		byProvider[in.Provider] = append(byProvider[in.Provider], in.ID)
	}
	names := make([]string, 0, len(byProvider))
	for name := range byProvider {
		names = append(names, name)
	}
	sort.Strings(names)
	results := make([]map[string]providers.Instance, len(names))
	g, gctx := errgroup.WithContext(ctx)
	for i, name := range names {
		prov, ok := provs[name]
		if !ok {
			return nil, fmt.Errorf("look up: no client for provider %q", name)
		}
		g.Go(func() error {
			got, err := prov.Lookup(gctx, byProvider[name])
			if err != nil {
				return err // the client names itself, the call and the count
			}
			results[i] = got
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]plan.Observed, len(instances))
	for i, name := range names {
		for id, inst := range results[i] {
			out[plan.Key(name, id)] = Observe(inst)
		}
	}
	return out, nil
}

// Observe converts a provider's view of an instance into the diff's.
func Observe(inst providers.Instance) plan.Observed {
	o := plan.Observed{Found: inst.State != providers.StateNotFound, Image: inst.Image, Raw: inst.RawState, Fault: inst.Fault}
	switch inst.State {
	case providers.StateRunning:
		o.Power = plan.PowerRunning
	case providers.StateStopped:
		o.Power = plan.PowerStopped
	case providers.StateInProgress:
		o.Power = plan.PowerBusy
	case providers.StateError:
		o.Power = plan.PowerError
	}
	return o
}
