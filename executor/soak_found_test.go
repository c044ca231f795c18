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

// Violations the chaos soak (bench/soak/) found, each reduced to the engine on the
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

// TestResolveQueuedChangeAfterCrashNotResubmitted: a run is killed after it
// wrote the intent of an image change and sent it, before the answer (no
// submitted record); the cloud queued the change and shows nothing of it yet
// (KEC and ECS both may, for seconds). The next run, started at once,
// resolves the intent: the instance idle on its old image is not proof that
// the change did not take until the settle window has passed, as for a lost
// answer in the run itself. It was made again, so the OS was installed twice
// (soak seed 30: every change queued 746ms, kill -9, rerun).
//
// With the submission recorded (KEC: a request id, no job), the same: the
// client of the new process never submitted it, so it knows of no grace
// before the rebuild shows, and said at once "the change did not take"
// (soak seed 30 again, once the first case was fixed).
func TestResolveQueuedChangeAfterCrashNotResubmitted(t *testing.T) {
	for _, tc := range []struct {
		stopsItself, submitted bool
	}{{false, false}, {true, false}, {false, true}} {
		name := map[bool]string{false: "stopped first (KEC)", true: "change stops it (ECS)"}[tc.stopsItself]
		if tc.submitted {
			name += ", submitted"
		}
		stopsItself := tc.stopsItself
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(1, true)
				cloud.caps.ChangeStopsRunning = stopsItself
				p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
				_ = cloud.set("i-000", func(in *providers.Instance) { in.State, in.RawState = providers.StateStopped, "SHUTOFF" })
				// The killed run's change, queued by the cloud.
				cloud.after(2*time.Second, func(c *fakeCloud) { c.inst["i-000"].Image = "new"; c.changes["i-000"]++ })
				j := openTestJournal(t)
				if err := j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "change", Image: "new", WasRunning: true}); err != nil {
					t.Fatal(err)
				}
				var prov providers.Provider = cloud
				if tc.submitted {
					if err := j.Append(Record{Event: EventSubmitted, Provider: "fake", ID: "i-000", RequestID: "req-1"}); err != nil {
						t.Fatal(err)
					}
					prov = noGraceCloud{cloud}
				}
				if _, _, err := (faultRun{journal: j, settle: 5 * time.Second}).run(t, prov, p); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Second)
				cloud.due()
				cloud.mu.Lock()
				n := cloud.changes["i-000"]
				cloud.mu.Unlock()
				if n != 1 {
					t.Errorf("OS installed %d times, want once", n)
				}
				if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning || st.Image != "new" {
					t.Errorf("instance %+v, want running on the new image", st)
				}
			})
		})
	}
}

// TestReinstallSubmitInDoubtNoSignStartsAgain: the answer to a reinstall is
// a 503 that may or may not have followed its acceptance (KEC), and through
// the whole settle window the instance reimage stopped shows no sign of it.
// The token stays in doubt, never submitted again; but the instance ran, the
// cloud shows no change, and it is started again (DESIGN: "stop or submit in
// doubt and the cloud shows no change"). It was left stopped and broken
// (soak seed 22: i-06).
func TestReinstallSubmitInDoubtNoSignStartsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, true)
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
		p.Instances[0].Reinstall = "t1"
		cloud.inst["i-000"].Image = "new"
		cloud.dropped["i-000"] = 1
		j := openTestJournal(t)
		sum, events, err := faultRun{journal: j, settle: 5 * time.Second}.run(t, cloud, p)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 1 {
			t.Fatalf("summary %+v, want 1 failed", sum)
		}
		if reason := failures(events)["i-000"]; !strings.Contains(reason, "reinstall in doubt") || !strings.HasSuffix(reason, "started again") {
			t.Errorf("failure %q, want in doubt and started again", reason)
		}
		if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning {
			t.Errorf("instance %+v, want running again", st)
		}
		if e := j.Entry("fake", "i-000"); e.InDoubt == nil || e.Broken != nil {
			t.Errorf("journal entry %+v, want in doubt, not broken", e)
		}
		if n := cloud.calls(&cloud.changeCalls, "i-000"); n != 1 {
			t.Errorf("reinstall submitted %d times, want once", n)
		}
	})
}

// noGraceCloud answers Progress as a KEC client that did not make the
// submission does: an instance stopped on its old image "did not take".
type noGraceCloud struct{ *faultCloud }

func (c noGraceCloud) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	st, err := c.Status(ctx, sub.InstanceID)
	if err == nil && st.State == providers.StateStopped && st.Image != sub.ImageID {
		return providers.Progress{Phase: providers.PhaseFailed, Reason: "instance is stopped on image " + st.Image + ": the change did not take", Instance: st}, nil
	}
	return c.faultCloud.Progress(ctx, sub)
}

// staleFailCloud answers Progress as a client whose instance read comes
// from a coalesced batch taken before the job's verdict: the job FAILed, the
// read still shows the server as it was before the cloud shut it off.
type staleFailCloud struct{ *faultCloud }

func (c staleFailCloud) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	p, err := c.faultCloud.Progress(ctx, sub)
	if err == nil && p.Phase == providers.PhaseFailed {
		p.Instance.State, p.Instance.RawState = providers.StateRunning, "ACTIVE"
	}
	return p, err
}

// TestJobFailedWithStaleReadStartsAgain: the cloud's job FAILs (the server
// shut off for the change stays SHUTOFF, unharmed) but the instance read
// that came with the verdict is older and shows it running: a failed job is
// over, so the instance is read again and started; it was left shut off and
// broken (soak seed 37: i-04, i-07, ECS with queued changes and a poll budget).
func TestJobFailedWithStaleReadStartsAgain(t *testing.T) {
	for _, reinstall := range []bool{false, true} {
		name := map[bool]string{false: "image change", true: "reinstall"}[reinstall]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(1, true)
				cloud.caps.ChangeStopsRunning = true
				cloud.failStopped["i-000"] = true
				p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
				if reinstall {
					p.Instances[0].Reinstall = "t1"
					cloud.inst["i-000"].Image = "new"
				}
				j := openTestJournal(t)
				_, events, err := faultRun{journal: j, settle: 5 * time.Second}.run(t, staleFailCloud{cloud}, p)
				if err != nil {
					t.Fatal(err)
				}
				if reason := failures(events)["i-000"]; !strings.HasSuffix(reason, "started again") {
					t.Errorf("failure %q, want started again", reason)
				}
				if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning {
					t.Errorf("instance %+v, want running again", st)
				}
				if e := j.Entry("fake", "i-000"); e.Broken != nil {
					t.Errorf("journal entry %+v, want not broken", e)
				}
			})
		})
	}
}

// TestStoppedByCrashedRunStartedWhenItsChangeNeverStarts: a run is killed
// after it stopped an instance for its change; the next run resolves the
// intent and leaves the start to the change, but a first signal (drain)
// comes before the change starts: the instance was left stopped until yet
// another run (soak seeds 104, 112). It is started at the run's end.
func TestStoppedByCrashedRunStartedWhenItsChangeNeverStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, true)
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
		_ = cloud.set("i-000", func(in *providers.Instance) { in.State = providers.StateStopped })
		j := openTestJournal(t)
		if err := j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "change", Image: "new", WasRunning: true, Reason: ReasonStopped}); err != nil {
			t.Fatal(err)
		}
		drain := make(chan struct{})
		close(drain)
		if _, _, err := (faultRun{journal: j, drain: drain}).run(t, cloud, p); err != nil {
			t.Fatal(err)
		}
		if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning {
			t.Errorf("instance %+v, want running again", st)
		}
		if n := cloud.calls(&cloud.changeCalls, "i-000"); n != 0 {
			t.Errorf("changed %d times after the signal, want never", n)
		}
	})
}
