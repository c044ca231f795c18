package sim

import (
	"fmt"
	"hash/fnv"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/huaweicloud"
)

// SeedPlan puts every instance of p in the fleet, running on an older image
// (OlderImage of its target) except a stoppedFraction of them, and catalogues
// both images; Huawei providers' project ids become accepted projects.
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
			return fmt.Errorf("sim: provider %s: type %q is neither %q nor %q", prov.Name, prov.Type, Ksyun, HuaweiCloud)
		}
		project := prov.Settings[providers.ProjectSetting]
		if prov.Type == HuaweiCloud && project != "" && !s.projects[project] {
			s.projects[project] = true
			s.opts.ProjectIDs = append(s.opts.ProjectIDs, project)
		}
		s.seedLogin(prov.Type, pi)
		old := OlderImage(pi.Image)
		s.images[prov.Type][pi.Image] = true
		st := "running"
		if unitHash(s.opts.Seed, prov.Type, pi.ID) < stoppedFraction {
			st = "stopped"
		}
		if prov.Type == Ksyun {
			project = ""
		}
		if err := s.addInstance(Instance{
			Provider: prov.Type, ID: pi.ID, Name: pi.Name, Image: old, State: st,
			ProjectID: project, Region: prov.Region,
			// A plan that pays a server's orders says it is prepaid.
			Prepaid: prov.Type == HuaweiCloud && huaweicloud.OptionsOf(pi.Options).AutoPay,
		}); err != nil {
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
