package sim

import (
	"fmt"
	"hash/fnv"

	"github.com/reimage-dev/reimage/plan"
)

// SeedPlan puts every instance of p in the fleet, running on an older image
// (OlderImage of its target) except a stoppedFraction of them, and catalogues
// both images; each front-end reads what the plan says in its cloud's words
// (Frontend.FromPlan: projects, prepaid servers, key pairs).
// Protected instances are seeded too: the plan decides not to touch them, the
// cloud still has them. Which instances are stopped depends only on the seed
// and the instance, so the same plan and seed always give the same fleet.
func (s *Server) SeedPlan(p *plan.Plan, stoppedFraction float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pi := range p.Instances {
		prov := p.Providers[pi.Provider]
		if prov == nil {
			return fmt.Errorf("sim: instance %s: provider %q is not in the plan", pi.ID, pi.Provider)
		}
		if s.fleet[prov.Type] == nil {
			return fmt.Errorf("sim: provider %s: type %q is not simulated (want %s)", prov.Name, prov.Type, s.typeList())
		}
		old := OlderImage(pi.Image)
		s.images[prov.Type][pi.Image] = true
		st := "running"
		if unitHash(s.opts.Seed, prov.Type, pi.ID) < stoppedFraction {
			st = "stopped"
		}
		in := Instance{Provider: prov.Type, ID: pi.ID, Name: pi.Name, Image: old, State: st, Region: prov.Region}
		// What the plan says in the cloud's own words (its project, a
		// prepaid server, the key pairs its login names).
		s.byType[prov.Type].FromPlan(prov, pi, &in)
		if err := s.addInstance(in); err != nil {
			return err
		}
	}
	return nil
}

// unitHash maps (seed, provider, id) to [0, 1): a per-instance coin that does
// not depend on the order of the plan.
func unitHash(seed int64, provider, id string) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%s", seed, provider, id)
	// FNV alone barely moves its high bits for ids that differ in the last
	// characters; the splitmix64 finaliser spreads them.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
