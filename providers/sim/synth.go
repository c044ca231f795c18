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
)

// synthInstance labels the k-th synthetic instance of a front-end.
func synthInstance(f Frontend, k int) Instance {
	provider, region := f.Type(), f.Synthetic().Region
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
	img := &Image{Provider: provider, ID: id}
	if names := s.byType[provider].Synthetic().ImageNames; len(names) > 0 {
		img.Name = names[j%len(names)]
	}
	s.cat.of(provider)[id] = img
}
