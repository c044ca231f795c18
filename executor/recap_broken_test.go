package executor

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
)

// An instance whose change left it in the cloud's error state is blocked at the
// next look-up (the error state), yet it is broken by reimage: the rerun's recap
// lists it as failed, "broken by an earlier run", with what clears it (ack), as
// the README says, not as blocked with "remove the cause, then run apply again",
// which no rerun can do.
func TestRecapListsInstanceLeftInErrorStateAsBrokenEarlier(t *testing.T) {
	cloud := newFakeCloud(2, false)
	cloud.fail["i-001"] = true
	p := testPlan(cloud, []plan.Wave{{Size: plan.Size{Count: 2}}}, plan.Size{Count: 1}, 2)
	j, err := OpenJournal(filepath.Join(t.TempDir(), "journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if sum, _ := runPlan(t, cloud, p, j); sum.Failed != 1 {
		t.Fatalf("first run: %+v, want i-001 failed", sum)
	}
	sum, events := runPlan(t, cloud, p, j)
	if sum.Broken != 1 || sum.Converged() {
		t.Fatalf("rerun: %+v, want i-001 broken and the run not converged", sum)
	}
	rc := recapOf(events)
	if len(rc) != 1 {
		t.Fatalf("rerun's recap %+v, want i-001 alone", rc)
	}
	if r := rc[0]; r.ID != "i-001" || r.Outcome != OutcomeFailed || !strings.HasPrefix(r.Reason, "broken by an earlier run: ") ||
		!strings.Contains(r.Next, "reimage ack") {
		t.Errorf("rerun's recap entry %+v, want i-001 failed, broken by an earlier run, cleared by reimage ack", r)
	}
}
