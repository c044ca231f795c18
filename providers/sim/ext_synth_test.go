package sim_test

import (
	"regexp"
	"testing"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestSeedSyntheticVariety: a synthetic fleet has names by role, the three
// tags, three zones per region, unique loopback addresses and named images.
func TestSeedSyntheticVariety(t *testing.T) {
	s := sim.New(sim.Options{Seed: 3})
	s.SeedSynthetic(40, 0)
	nameRE := regexp.MustCompile(`^(web|api|db|cache)-\d{4}$`)
	zones := map[string]map[string]bool{ksyun.Type: {}, huaweicloud.Type: {}}
	ips := map[string]bool{}
	envs := map[string]int{}
	names := map[string]bool{}
	for _, v := range s.Instances() {
		if !nameRE.MatchString(v.Name) || v.Tags["role"] == "" || v.Tags["team"] == "" || v.Name[:len(v.Tags["role"])] != v.Tags["role"] {
			t.Errorf("%s: name %q tags %v", v.ID, v.Name, v.Tags)
		}
		if names[v.Provider+v.Name] {
			t.Errorf("name %s twice on %s", v.Name, v.Provider)
		}
		names[v.Provider+v.Name] = true
		envs[v.Tags["env"]]++
		zones[v.Provider][v.Zone] = true
		if ips[v.PrivateIP] || !regexp.MustCompile(`^127\.\d+\.\d+\.\d+$`).MatchString(v.PrivateIP) {
			t.Errorf("%s: address %s repeated or not loopback", v.ID, v.PrivateIP)
		}
		ips[v.PrivateIP] = true
	}
	if len(zones[ksyun.Type]) != 3 || len(zones[huaweicloud.Type]) != 3 || envs["prod"] == 0 || envs["staging"] == 0 {
		t.Errorf("zones %v, envs %v", zones, envs)
	}
	running := map[string]string{}
	for _, v := range s.Instances() {
		running[v.Provider] = v.Image
	}
	s.Lock()
	defer s.Unlock()
	for _, p := range []string{ksyun.Type, huaweicloud.Type} {
		f, _ := s.Frontend(p)
		if img := s.CatalogImage(p, running[p]); img == nil || img.Name != f.Synthetic().ImageNames[0] {
			t.Errorf("%s: synthetic image %+v", p, img)
		}
	}
}
