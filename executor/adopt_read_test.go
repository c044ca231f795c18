package executor

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

// plan is read-only, yet it must not say "nothing to do" while another of
// this plan's journals holds an instance in doubt, broken, or stopped by a
// killed run: ReadWithOthers folds in what AdoptOthers would take over (the
// plan's other shard counts, the plan's other names proven by its file's
// path, other names by instance id), without writing or locking anything.
func TestReadWithOthersShowsWhatApplyWouldAdopt(t *testing.T) {
	dir := t.TempDir()
	planFile := filepath.Join(dir, "fleet.yaml")
	in := func(id string) *plan.Instance { return &plan.Instance{Provider: "fake", ID: id} }
	run := []*plan.Instance{in("i-000"), in("i-001"), in("i-002")}
	scope := AdoptScope{Plan: "web", PlanPath: planFile, Run: run, Full: run}

	write := func(name string, recs ...Record) string {
		path := filepath.Join(dir, name)
		j, err := OpenJournal(path, nil)
		must(t, err)
		for _, r := range recs {
			must(t, j.Append(r))
		}
		j.Close()
		return path
	}
	own := write("web.journal", Record{Event: EventDone, Provider: "fake", ID: "i-000", Token: "t0"})
	paths := []string{
		// The plan's other shard count: a reinstall in doubt.
		write("web.shard-0-of-2.journal", Record{Event: EventInDoubt, Provider: "fake", ID: "i-001", Action: "reinstall", Token: "t1", Reason: "answer lost"}),
		// An old name, found by instance id: broken.
		write("old.journal", Record{Event: EventBroken, Provider: "fake", ID: "i-002", Reason: "in an error state"},
			// Proven this plan's by its path: an instance that has left the plan, stopped by a killed run.
			Record{Event: EventIntent, Provider: "fake", ID: "i-009", Action: "change", WasRunning: true, Reason: ReasonStopped, Plan: planFile}),
		// Another plan's: nothing of this plan's.
		write("db.journal", Record{Event: EventIntent, Provider: "fake", ID: "i-777", Action: "change", WasRunning: true, Reason: ReasonStopped, Plan: filepath.Join(dir, "db.yaml")}),
	}
	before := map[string][]byte{}
	for _, p := range append(paths, own) {
		b, err := os.ReadFile(p)
		must(t, err)
		before[p] = b
	}

	j, err := ReadWithOthers(own, scope)
	must(t, err)
	if e := j.Entry("fake", "i-000"); e.DoneToken != "t0" {
		t.Errorf("i-000 %+v: its own journal's done token lost", e)
	}
	if e := j.Entry("fake", "i-001"); e.InDoubt == nil || e.InDoubt.Token != "t1" {
		t.Errorf("i-001 %+v, want the reinstall in doubt of the other shard count", e)
	}
	if e := j.Entry("fake", "i-002"); e.Broken == nil {
		t.Errorf("i-002 %+v, want broken, from the old name's journal", e)
	}
	pending := j.Pending()
	if len(pending) != 1 || pending[0].ID != "i-009" {
		t.Errorf("pending %+v, want only i-009, stopped by the renamed plan's killed run", pending)
	}

	for _, p := range append(paths, own) {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, before[p]) {
			t.Errorf("%s changed: plan must write nothing", p)
		}
	}
	locks, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(locks) != 0 {
		t.Errorf("lock files %v: plan must lock nothing", locks)
	}
	// A missing own journal is an empty one.
	if _, err := ReadWithOthers(filepath.Join(dir, "none.journal"), scope); err != nil {
		t.Errorf("no own journal: %v", err)
	}
}
