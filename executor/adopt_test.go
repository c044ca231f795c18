package executor

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// An instance an earlier run stopped, recorded in the journal of another
// shard count, is adopted by this run's journal, started again, and closed in
// both: no intent dangles in a journal no run reads any more.
func TestAdoptStoppedInstanceFromAnotherShardCount(t *testing.T) {
	cloud := newMarkerCloud(2, false)
	dir := t.TempDir()
	otherPath := filepath.Join(dir, "fleet.shard-1-of-2.journal")
	other, err := OpenJournal(otherPath, nil)
	must(t, err)
	must(t, other.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-001", Action: "change", Image: "new", WasRunning: true, Reason: ReasonStopped}))
	must(t, other.Append(Record{Event: EventDone, Provider: "fake", ID: "i-000", Token: "t0"}))
	other.Close()

	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 2}}}, plan.Size{}, 1)
	p.Instances[1].Protect = true // not to be changed: it must be started
	j := openJournal(t, dir)
	n, _, err := adoptOne(j, otherPath, func(p, _ string, _ Entry) (string, bool) { return p, true }, Holder{PID: 1})
	if err != nil || n != 2 {
		t.Fatalf("adoptOne = %d, %v; want 2 instances adopted", n, err)
	}
	if j.DoneToken("fake", "i-000") != "t0" {
		t.Error("the done token was not adopted")
	}
	flow(t, cloud, p, j)
	if st, _ := cloud.Status(context.Background(), "i-001"); st.State != providers.StateRunning {
		t.Fatalf("i-001 %v, want started again", st.State)
	}
	if len(j.Pending()) != 0 {
		t.Fatalf("pending here: %+v", j.Pending())
	}
	back, err := ReadJournal(otherPath)
	must(t, err)
	if e := back.Entry("fake", "i-001"); e.Pending != nil {
		t.Fatalf("still pending in the other journal: %+v", e)
	}
}

// A journal whose lock another run holds is that run's: left alone.
func TestAdoptLeavesAJournalInUse(t *testing.T) {
	dir := t.TempDir()
	otherPath := filepath.Join(dir, "fleet.shard-0-of-2.journal")
	other, err := OpenJournal(otherPath, nil)
	must(t, err)
	must(t, other.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-001", Action: "change", WasRunning: true, Reason: ReasonStopped}))
	other.Close()
	lock, err := AcquireLock(filepath.Join(dir, "fleet.shard-0-of-2.lock"), Holder{PID: 2})
	must(t, err)
	defer lock.Release()
	j := openJournal(t, dir)
	n, _, err := adoptOne(j, otherPath, func(p, _ string, _ Entry) (string, bool) { return p, true }, Holder{PID: 1})
	if err != nil || n != 0 || len(j.Pending()) != 0 {
		t.Fatalf("adoptOne = %d, %v, pending %+v; want nothing taken from a journal in use", n, err, j.Pending())
	}
}

var _ = errors.New
