package sim

import (
	"net/http"
	"testing"
)

// TestECSPasswordPolicyRefusedWithEcs0011: an adminpass outside ECS's policy (here a '#', not one
// of its specials, and 27 characters) is refused with Ecs.0011 and the server is not touched.
func TestECSPasswordPolicyRefusedWithEcs0011(t *testing.T) {
	h := newHarness(t)
	for _, pw := range []string{"Passw0rd#x", "A1b2C3d4E5f6G7h8I9j0K1l2M3n"} {
		r := h.ecs(http.MethodPost, "/cloudservers/"+ecsStopped+"/changeos", nil, map[string]any{"os-change": map[string]any{"adminpass": pw, "imageid": imgECSNew}})
		if r.status != http.StatusBadRequest || r.ecsCode() != "Ecs.0011" {
			t.Fatalf("%q: %d %s, want 400 Ecs.0011", pw, r.status, r.raw)
		}
	}
	if v := h.view(HuaweiCloud, ecsStopped); v.State != "SHUTOFF" || v.Image != imgOld {
		t.Fatalf("server touched: %+v", v)
	}
}
