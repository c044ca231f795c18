package executor

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// Violations the chaos soak (soak/) found, each reduced to the engine on the
// in-memory cloud.

// TestReinstallJobFailedLeavesItShutOffStartsAgainInDoubt: an ECS reinstall
// whose job FAILs after the server was shut off (the simulator's
// -job-fail-rate). The image is the one it ran, so nothing tells whether the
// disk was rebuilt: the token is in doubt, never submitted again. But the
// instance ran before, and starting it is right whether or not the reinstall
// happened (the cloud starts it after one): it was left shut off and
// journaled broken, "stopped and not started again" (soak seed 3: i-05, i-35).
func TestReinstallJobFailedLeavesItShutOffStartsAgainInDoubt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, true)
		cloud.caps.ChangeStopsRunning = true // ECS reinstallos stops the server itself
		cloud.failStopped["i-000"] = true
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
		p.Instances[0].Reinstall = "t1"
		cloud.inst["i-000"].Image = "new"
		j := openTestJournal(t)
		sum, events, err := faultRun{journal: j, settle: 5 * time.Second}.run(t, cloud, p)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 1 {
			t.Fatalf("summary %+v, want 1 failed", sum)
		}
		reason := failures(events)["i-000"]
		if !strings.Contains(reason, "EcsRebuildFailed") || !strings.Contains(reason, "reinstall in doubt") || !strings.Contains(reason, "started again") {
			t.Errorf("failure %q, want the job's reason, in doubt, and started again", reason)
		}
		if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning {
			t.Errorf("instance %+v, want running again", st)
		}
		if e := j.Entry("fake", "i-000"); e.InDoubt == nil || e.Broken != nil || e.Pending != nil {
			t.Errorf("journal entry %+v, want in doubt, not broken, nothing pending", e)
		}
		// In doubt: the next run leaves it alone, never submitting it again.
		cloud.fmu.Lock()
		cloud.failStopped["i-000"] = false
		cloud.fmu.Unlock()
		if _, _, err := (faultRun{journal: j, settle: 5 * time.Second}).run(t, cloud, p); err != nil {
			t.Fatal(err)
		}
		if n := cloud.calls(&cloud.changeCalls, "i-000"); n != 1 {
			t.Errorf("reinstall submitted %d times, want once", n)
		}
	})
}
