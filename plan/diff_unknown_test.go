package plan

import "testing"

// A settled state reimage does not change (a locked server, a status the
// cloud itself does not know, suspended) blocks the instance with the cloud's
// own words, and never with "try again when it has settled": it has.
func TestDiffUnchangeableStateSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  Observed
		want string
	}{
		{"locked", Observed{Found: true, Image: "old", Power: PowerUnknown, Raw: "ACTIVE (locked)", Fault: "server is locked: ECS refuses operations on it until it is unlocked"},
			"instance is in a state reimage does not change (ACTIVE (locked)): server is locked: ECS refuses operations on it until it is unlocked"},
		{"unknown", Observed{Found: true, Image: "old", Power: PowerUnknown, Raw: "UNKNOWN"},
			"instance is in a state reimage does not change (UNKNOWN)"},
		{"busy", Observed{Found: true, Image: "old", Power: PowerBusy, Raw: "stopping"},
			"instance is busy (stopping); try again when it has settled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Instance{ID: "i-1", Provider: "ecs", Image: "new", Running: RunningStop}
			got := Diff(&Plan{Instances: []*Instance{&in}}, map[string]Observed{Key("ecs", "i-1"): tc.obs}, nil)[0]
			if got.Action != ActionBlocked || got.Reason != tc.want {
				t.Errorf("%v %q, want blocked %q", got.Action, got.Reason, tc.want)
			}
		})
	}
}
