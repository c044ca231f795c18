package providers_test

import (
	"regexp"
	"testing"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestSimulatedInstanceIDsHaveTheDriversForm: the instances a driver's
// simulator front-end is seeded with (`reimage sim -instances N`, which
// `discover` then writes into plans) have ids of the form the driver
// declares, so that a plan written from them loads. A cloud whose ids are not
// UUIDs fails here until its simulator mints ids of its form (the core mints
// UUIDs today).
func TestSimulatedInstanceIDsHaveTheDriversForm(t *testing.T) {
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		t.Run(typ, func(t *testing.T) {
			if d.Plan.InstanceID.IsZero() {
				t.Fatalf("driver %q declares no instance id form (Plan.InstanceID): plan would take any text as its ids", typ)
			}
			if d.Simulator == nil {
				t.Skip("no simulator front-end")
			}
			re := regexp.MustCompile(d.Plan.InstanceID.Pattern)
			s := sim.New(sim.Options{Seed: 3, Frontends: []sim.NewFrontend{d.Simulator}})
			s.SeedSynthetic(40, 0.25)
			fleet := s.Fleet(typ)
			if len(fleet) != 40 {
				t.Fatalf("%d instances seeded, want 40", len(fleet))
			}
			for id := range fleet {
				if !re.MatchString(id) {
					t.Errorf("the simulator minted instance id %q, not %s", id, d.Plan.InstanceID.Expected())
				}
			}
		})
	}
}
