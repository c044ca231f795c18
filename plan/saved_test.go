package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSavedStaleAndRestrict(t *testing.T) {
	a := &Instance{Provider: "kec", ID: "a", Image: "new"}
	b := &Instance{Provider: "kec", ID: "b", Image: "new"}
	p := &Plan{Name: "fleet", File: "fleet.yaml", Instances: []*Instance{a, b}}
	obs := map[string]Observed{
		Key("kec", "a"): {Found: true, Image: "old", Power: PowerStopped, Raw: "stopped"},
		Key("kec", "b"): {Found: true, Image: "new", Power: PowerRunning, Raw: "active"},
	}
	saved := NewSaved(p, "sum", Shard{}, Diff(p, obs, nil), time.Now())
	if len(saved.Changes) != 1 || saved.Changes[0].ID != "a" {
		t.Fatalf("saved changes %+v, want a only", saved.Changes)
	}
	path := filepath.Join(t.TempDir(), "fleet.plan")
	if err := saved.Write(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("saved plan mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !IsSaved(data) {
		t.Fatal("IsSaved does not recognise a saved plan")
	}
	back, err := ReadSaved(path)
	if err != nil {
		t.Fatal(err)
	}
	if stale := back.Stale(Diff(p, obs, nil)); len(stale) != 0 {
		t.Fatalf("unchanged fleet reported stale: %v", stale)
	}
	// b changed behind the reviewer's back: stale, naming b.
	obs[Key("kec", "b")] = Observed{Found: true, Image: "other", Power: PowerRunning, Raw: "active"}
	fresh := Diff(p, obs, nil)
	stale := back.Stale(fresh)
	if len(stale) != 1 || !strings.HasPrefix(stale[0], "kec/b: now active on image other") {
		t.Fatalf("stale = %v", stale)
	}
	// Restrict keeps only the saved changes: b's new change is not applied.
	for _, c := range back.Restrict(fresh) {
		if c.Instance.ID == "b" && c.Action.Mutates() {
			t.Error("Restrict let a change through that the saved plan does not hold")
		}
		if c.Instance.ID == "a" && c.Action != ActionChange {
			t.Errorf("Restrict dropped the saved change of a: %v", c.Action)
		}
	}
}
