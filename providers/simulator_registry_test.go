package providers_test

import (
	"testing"

	"github.com/reimage-dev/reimage/providers"
	_ "github.com/reimage-dev/reimage/providers/drivers"
	"github.com/reimage-dev/reimage/providers/sim"
)

// TestEveryDriverHasASimulatorFrontend: the conformance suite and every
// rehearsal run on the simulator, so each registered driver brings its
// front-end, of its own type, and registering the driver registered it with
// the simulator (a sim.New without Frontends serves it), in the same order.
func TestEveryDriverHasASimulatorFrontend(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1})
	served := s.Types()
	types := providers.Types()
	if len(served) != len(types) {
		t.Fatalf("simulator serves %v, drivers are %v", served, types)
	}
	for i, typ := range types {
		d, _ := providers.Lookup(typ)
		if d.Simulator == nil {
			t.Errorf("driver %s has no simulator front-end", typ)
			continue
		}
		if got := d.Simulator(nil).Type(); got != typ {
			t.Errorf("driver %s's front-end simulates %q", typ, got)
		}
		if served[i] != typ {
			t.Errorf("simulator serves %v, drivers are %v: not in registration order", served, types)
		}
		if ak, sk, ok := s.Options().Credentials(typ); !ok || ak == "" || sk == "" {
			t.Errorf("no generated credentials for %s", typ)
		}
	}
}
