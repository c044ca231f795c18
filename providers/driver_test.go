package providers

import (
	"slices"
	"testing"
)

// withRegistry runs f with an empty registry and restores the real one after.
func withRegistry(t *testing.T, f func()) {
	driversMu.Lock()
	saved, savedOrder := drivers, order
	drivers, order = map[string]Driver{}, nil
	driversMu.Unlock()
	defer func() {
		driversMu.Lock()
		drivers, order = saved, savedOrder
		driversMu.Unlock()
	}()
	f()
}

func testDriver(typ string) Driver {
	return Driver{
		Type: typ, AccessKeyEnv: []string{"A"}, SecretKeyEnv: []string{"S"},
		SimAccessKeyEnv: "A", SimSecretKeyEnv: "S",
		Description: "Test Cloud " + typ, Example: Example{Region: "r-1"},
		New: func(Config) (Provider, func(), error) { return nil, func() {}, nil },
	}
}

func TestRegistryKeepsRegistrationOrder(t *testing.T) {
	withRegistry(t, func() {
		for _, typ := range []string{"zeta", "alpha", "mid"} {
			Register(testDriver(typ))
		}
		if got := Types(); !slices.Equal(got, []string{"zeta", "alpha", "mid"}) {
			t.Errorf("Types() = %v, want the registration order", got)
		}
		if got := TypeList(); got != "zeta, alpha or mid" {
			t.Errorf("TypeList() = %q", got)
		}
		if d, ok := Lookup("alpha"); !ok || d.Type != "alpha" {
			t.Errorf("Lookup(alpha) = %v, %v", d.Type, ok)
		}
		if _, ok := Lookup("beta"); ok {
			t.Error("Lookup(beta) found a driver never registered")
		}
		if _, _, err := Open("beta", Config{Name: "b1"}); err == nil || err.Error() != `provider b1: unknown provider type "beta": want zeta, alpha or mid` {
			t.Errorf("Open(beta) error %v", err)
		}
	})
}

func TestRegisterRefusesProgrammingErrors(t *testing.T) {
	incomplete := testDriver("x")
	incomplete.SimSecretKeyEnv = ""
	noNew := testDriver("y")
	noNew.New = nil
	unnamed := testDriver("u")
	unnamed.Description = ""
	noProjectExample := testDriver("p")
	noProjectExample.NeedsProject = true
	for name, ds := range map[string][]Driver{
		"twice":      {testDriver("a"), testDriver("a")},
		"incomplete": {incomplete},
		"no New":     {noNew},
		"no type":    {testDriver("")},
		// Help texts show every cloud: one without a description or
		// examples would leave a hole in them.
		"no description":         {unnamed},
		"project and no example": {noProjectExample},
	} {
		t.Run(name, func(t *testing.T) {
			withRegistry(t, func() {
				defer func() {
					if recover() == nil {
						t.Error("Register did not panic")
					}
				}()
				for _, d := range ds {
					Register(d)
				}
			})
		})
	}
}
