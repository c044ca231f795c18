package sim

import "fmt"

// Realistic variety for SeedSynthetic (reimage sim -instances N): instances
// named by role (web-0001, api-0001, db-0001, cache-0001, web-0002…), tagged
// role, env (prod, staging) and team, spread over three zones of their region;
// the three synthetic images have names as a cloud's public images do. All is
// derived from the instance's position, so the same N gives the same fleet.

var (
	synthRoles = []string{"web", "api", "db", "cache"}
	synthTeams = []string{"alpha", "beta", "gamma"}
	// synthImageNames are the names of the synthetic images: instances run the first.
	synthImageNames = map[string][]string{
		Ksyun:       {"centos-7.9-64bit-2026-09", "centos-7.9-64bit-2026-11", "ubuntu-22.04-64bit-2026-11"},
		HuaweiCloud: {"CentOS 7.9 64bit 2026-09", "CentOS 7.9 64bit 2026-11", "Ubuntu 22.04 server 64bit 2026-11"},
	}
)

// synthInstance labels the k-th synthetic instance of a provider type.
func synthInstance(provider string, k int) Instance {
	region := "cn-beijing-6"
	if provider == HuaweiCloud {
		region = "cn-north-4"
	}
	role := synthRoles[k%len(synthRoles)]
	env := "prod"
	if k%7 < 2 {
		env = "staging"
	}
	return Instance{
		Provider: provider,
		Name:     fmt.Sprintf("%s-%04d", role, k/len(synthRoles)+1),
		Region:   region,
		Zone:     region + string("abc"[k%3]),
		Tags:     map[string]string{"role": role, "env": env, "team": synthTeams[(k/2)%len(synthTeams)]},
	}
}

// nameSynthImage gives the j-th synthetic image its name; s.mu must be held.
func (s *Server) nameSynthImage(provider, id string, j int) {
	s.cat.init()
	names := synthImageNames[provider]
	s.cat.images[provider][id] = &Image{Provider: provider, ID: id, Name: names[j%len(names)]}
}
