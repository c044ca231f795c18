package plan

import "testing"

func TestDiff(t *testing.T) {
	const img, old = "img-new", "img-old"
	tests := []struct {
		name      string
		in        Instance
		obs       Observed
		done      string
		want      Action
		stopFirst bool
	}{
		{"change stopped", Instance{}, Observed{Found: true, Image: old, Power: PowerStopped}, "", ActionChange, false},
		{"change running", Instance{}, Observed{Found: true, Image: old, Power: PowerRunning}, "", ActionChange, true},
		{"ok", Instance{}, Observed{Found: true, Image: img, Power: PowerRunning}, "", ActionOK, false},
		{"ok even busy", Instance{}, Observed{Found: true, Image: img, Power: PowerBusy}, "", ActionOK, false},
		{"protected wins", Instance{Protect: true}, Observed{Found: true, Image: old, Power: PowerStopped}, "", ActionProtected, false},
		{"protected not found", Instance{Protect: true}, Observed{}, "", ActionProtected, false},
		{"not found", Instance{}, Observed{}, "", ActionBlocked, false},
		{"error state", Instance{}, Observed{Found: true, Image: old, Power: PowerError, Raw: "error"}, "", ActionBlocked, false},
		{"busy", Instance{}, Observed{Found: true, Image: old, Power: PowerBusy, Raw: "stopping"}, "", ActionBlocked, false},
		{"running skip", Instance{Running: RunningSkip}, Observed{Found: true, Image: old, Power: PowerRunning}, "", ActionBlocked, false},
		{"stopped skip changes", Instance{Running: RunningSkip}, Observed{Found: true, Image: old, Power: PowerStopped}, "", ActionChange, false},
		{"new token", Instance{Reinstall: "2026-11"}, Observed{Found: true, Image: img, Power: PowerRunning}, "2026-10", ActionReinstall, true},
		{"token done", Instance{Reinstall: "2026-11"}, Observed{Found: true, Image: img, Power: PowerRunning}, "2026-11", ActionOK, false},
		{"token and image change", Instance{Reinstall: "2026-11"}, Observed{Found: true, Image: old, Power: PowerStopped}, "", ActionChange, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.ID, in.Provider, in.Image = "i-1", "kec", img
			if in.Running == "" {
				in.Running = RunningStop
			}
			p := &Plan{Instances: []*Instance{&in}}
			obs := map[string]Observed{}
			if tt.obs.Found {
				obs[Key("kec", "i-1")] = tt.obs
			}
			got := Diff(p, obs, func(string, string) string { return tt.done })
			if len(got) != 1 {
				t.Fatalf("Diff returned %d changes", len(got))
			}
			if got[0].Action != tt.want || got[0].StopFirst != tt.stopFirst {
				t.Errorf("action %v stopFirst %v (%s), want %v stopFirst %v", got[0].Action, got[0].StopFirst, got[0].Reason, tt.want, tt.stopFirst)
			}
			if got[0].Action == ActionBlocked && got[0].Reason == "" {
				t.Error("blocked without a reason")
			}
		})
	}
}
