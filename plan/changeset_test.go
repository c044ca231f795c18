package plan

import "testing"

func TestChangeSetEmptyOnlyWithoutChangesOrCallsInDoubt(t *testing.T) {
	in := &Instance{ID: "i-1", Provider: "p"}
	for _, tt := range []struct {
		name     string
		actions  []Action
		pending  int
		mutating int
		empty    bool
	}{
		{"nothing", nil, 0, 0, true},
		{"all ok, protected or blocked", []Action{ActionOK, ActionProtected, ActionBlocked}, 0, 0, true},
		{"a change", []Action{ActionOK, ActionChange}, 0, 1, false},
		{"a reinstall", []Action{ActionReinstall, ActionBlocked}, 0, 1, false},
		{"only calls in doubt", []Action{ActionOK}, 2, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := ChangeSet{Pending: tt.pending}
			for _, a := range tt.actions {
				cs.Changes = append(cs.Changes, Change{Instance: in, Action: a})
			}
			if got := len(cs.Mutating()); got != tt.mutating {
				t.Errorf("Mutating() has %d, want %d", got, tt.mutating)
			}
			if got := cs.Empty(); got != tt.empty {
				t.Errorf("Empty() = %v, want %v", got, tt.empty)
			}
		})
	}
}
