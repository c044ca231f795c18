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

// TestResolveJobFailedAfterCrashStartsAgain: a run is killed after it
// submitted a change (journal: intent, submitted with the job) to a server
// it had shut off, and the cloud then ends the job FAILED, leaving the server
// shut off. The next run resolves the intent by following the job: the
// instance ran before, so it must run again. An image change did not happen
// (the old image): this run makes it again and starts it. A reinstall is in
// doubt (never submitted again) but started again. Neither is broken: it
// was left shut off and broken ("stopped and not started again").
func TestResolveJobFailedAfterCrashStartsAgain(t *testing.T) {
	for _, reinstall := range []bool{false, true} {
		name := map[bool]string{false: "image change", true: "reinstall"}[reinstall]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(1, true)
				cloud.caps.ChangeStopsRunning = true
				p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
				action, image := "change", "old"
				if reinstall {
					action, image = "reinstall", "new"
					p.Instances[0].Reinstall = "t1"
				}
				_ = cloud.set("i-000", func(in *providers.Instance) {
					in.Image, in.State, in.RawState = image, providers.StateStopped, "SHUTOFF"
				})
				cloud.failStopped["i-000"] = true
				j := openTestJournal(t)
				for _, r := range []Record{
					{Event: EventIntent, Provider: "fake", ID: "i-000", Action: action, Image: "new", Token: p.Instances[0].Reinstall, WasRunning: true},
					{Event: EventSubmitted, Provider: "fake", ID: "i-000", Action: action, Image: "new", Token: p.Instances[0].Reinstall, JobID: "job-i-000"},
				} {
					if err := j.Append(r); err != nil {
						t.Fatal(err)
					}
				}
				// The failed job is the earlier run's (followed by Resolve,
				// before the look-up); this run's change works.
				healed := func() {
					cloud.fmu.Lock()
					cloud.failStopped["i-000"] = false
					cloud.fmu.Unlock()
				}
				if _, _, err := (faultRun{journal: j, settle: 5 * time.Second, afterLookup: healed}).run(t, cloud, p); err != nil {
					t.Fatal(err)
				}
				st, _ := cloud.Status(context.Background(), "i-000")
				if st.State != providers.StateRunning {
					t.Errorf("instance %+v, want running again", st)
				}
				e := j.Entry("fake", "i-000")
				if e.Broken != nil || e.Pending != nil {
					t.Errorf("journal entry %+v, want neither broken nor pending", e)
				}
				if reinstall {
					if e.InDoubt == nil {
						t.Errorf("journal entry %+v, want the reinstall in doubt", e)
					}
					if n := cloud.calls(&cloud.changeCalls, "i-000"); n != 0 {
						t.Errorf("reinstall submitted %d times after the crash, want never", n)
					}
				} else if st.Image != "new" {
					t.Errorf("instance %+v, want changed by this run", st)
				}
			})
		})
	}
}
