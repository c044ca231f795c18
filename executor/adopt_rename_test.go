package executor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// A run killed mid-wave left, in the journal of the plan's old name and shard
// count (and under the provider entry's old name), an instance it had stopped
// and a change submitted in doubt. The plan was then renamed and re-sharded:
// the rerun's journal has another name, yet it finds both by the instances'
// ids, takes them over (closing them there), starts the stopped instance
// again and follows the change instead of submitting it again. The journal of
// another plan in the same directory, which holds nothing of this run's, is
// not even locked.
func TestAdoptFromRenamedAndReshardedPlan(t *testing.T) {
	cloud := newMarkerCloud(3, true)
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "web-old.shard-1-of-3.journal")
	old, err := OpenJournal(oldPath, nil)
	must(t, err)
	// i-001: stopped by the killed run, then protected in the renamed plan.
	must(t, old.Append(Record{Event: EventIntent, Provider: "fake-old", ID: "i-001", Action: "change", Image: "new", WasRunning: true, Reason: ReasonStopped}))
	// i-002: its change submitted, answer never recorded.
	must(t, old.Append(Record{Event: EventIntent, Provider: "fake-old", ID: "i-002", Action: "change", Image: "new", WasRunning: true}))
	old.Close()
	cloud.inst["i-001"].State = providers.StateStopped
	cloud.inst["i-002"].Image = "new" // the cloud took the change

	// Another plan's journal, with an intent of an instance not in this plan;
	// its lock path is a directory, so locking it fails: adoption must not try.
	otherPlan := filepath.Join(dir, "db.journal")
	o, err := OpenJournal(otherPlan, nil)
	must(t, err)
	must(t, o.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-999", Action: "change", WasRunning: true, Reason: ReasonStopped}))
	o.Close()
	must(t, os.Mkdir(filepath.Join(dir, "db.lock"), 0o700))

	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 3}}}, plan.Size{}, 3)
	p.Name = "web"
	p.Instances[1].Protect = true
	_, jp := StateFiles(dir, p.Name, plan.Shard{Index: 0, Count: 2})
	j, err := OpenJournal(jp, nil)
	must(t, err)
	defer j.Close()
	res, err := AdoptOthers(j, AdoptScope{Plan: p.Name, Run: p.Instances, Full: p.Instances}, Holder{PID: 1})
	n := res.Adopted
	if err != nil || n != 2 {
		t.Fatalf("AdoptOthers = %d, %v; want the 2 instances of the old journal", n, err)
	}
	if len(j.Pending()) != 2 {
		t.Fatalf("pending here %+v, want i-001 and i-002 under provider fake", j.Pending())
	}
	flow(t, cloud, p, j)
	if st, _ := cloud.Status(context.Background(), "i-001"); st.State != providers.StateRunning {
		t.Errorf("i-001 %v, want started again", st.State)
	}
	if got := cloud.changes["i-002"]; got != 0 {
		t.Errorf("i-002 changed %d times by this run, want 0 (the killed run's change took)", got)
	}
	if len(j.Pending()) != 0 {
		t.Errorf("still pending here: %+v", j.Pending())
	}
	back, err := ReadJournal(oldPath)
	must(t, err)
	for _, id := range []string{"i-001", "i-002"} {
		if e := back.Entry("fake-old", id); e.Pending != nil {
			t.Errorf("%s still pending in the old journal: %+v", id, e)
		}
	}
	if other, _ := ReadJournal(otherPlan); other.Entry("fake", "i-999").Pending == nil {
		t.Error("another plan's instance was taken")
	}
}

// Journals are this plan's by name: its own shard counts, not a plan whose
// name merely starts the same.
func TestIsJournalOf(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"web.journal", true},
		{"web.shard-0-of-2.journal", true},
		{"web.shard-11-of-12.journal", true},
		{"web-db.journal", false},
		{"web.shard-0-of-2.journal.tmp", false},
		{"web.shard-+1-of-2.journal", false},
		{"web.shard-x-of-2.journal", false},
		{"db.journal", false},
	}
	for _, tt := range tests {
		if got := isJournalOf(tt.name, "web"); got != tt.want {
			t.Errorf("isJournalOf(%q, web) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Which instances of another journal a run claims, and under which provider
// name: its own (by provider and id, else by id alone when one provider entry
// of the run has it); never another shard's; from the plan's own journals
// also those no longer in the plan, but not from another plan's.
func TestAdoptScopeClaims(t *testing.T) {
	in := func(provider, id string) *plan.Instance { return &plan.Instance{Provider: provider, ID: id} }
	run := []*plan.Instance{in("kec", "a"), in("kec", "b"), in("ecs", "b")}
	full := append([]*plan.Instance{in("kec", "c")}, run...)
	scope := AdoptScope{Plan: "web", Run: run, Full: full}
	tests := []struct {
		samePlan     bool
		provider, id string
		as           string
		ok           bool
	}{
		{true, "kec", "a", "kec", true},
		{false, "kec", "a", "kec", true},
		{false, "kec-old", "a", "kec", true}, // provider entry renamed
		{true, "kec", "c", "", false},        // another shard's
		{false, "kec-old", "c", "", false},   // another shard's, by id: not this run's
		{false, "x", "b", "", false},         // one id under two entries (two clouds): cannot tell
		{true, "kec", "gone", "kec", true},   // left the plan: the plan's own journal
		{false, "kec", "gone", "", false},    // another plan's instance
	}
	for _, tt := range tests {
		as, ok := scope.claim(tt.samePlan)(tt.provider, tt.id)
		if as != tt.as || ok != tt.ok {
			t.Errorf("claim(samePlan %v)(%s, %s) = %q, %v; want %q, %v", tt.samePlan, tt.provider, tt.id, as, ok, tt.as, tt.ok)
		}
	}
}
