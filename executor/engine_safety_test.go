package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

func openTestJournal(t *testing.T) *Journal {
	t.Helper()
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func kecRefusal(code string, status int) error {
	return &providers.APIError{Type: "ksyun", Operation: "ModifyInstanceImage", Code: code, HTTPStatus: status, Message: "refused"}
}

// TestRefusedChangeStartsAgain: a running instance that reimage stopped is
// started again in the same run when its change then does not happen, and
// the failure says so.
func TestRefusedChangeStartsAgain(t *testing.T) {
	tests := []struct {
		name        string
		stopsItself bool // ECS changeos withStopServer: the change stops it
		fault       func(*faultCloud)
		want        string
	}{
		{name: "image refused", fault: func(f *faultCloud) { f.refuse["i-000"] = kecRefusal("ImageIdInvalidParameterValue", 400) },
			want: "ImageIdInvalidParameterValue"},
		{name: "key login refused", fault: func(f *faultCloud) { f.refuse["i-000"] = kecRefusal("ImageTypeNotSupportedKeyLogin", 400) },
			want: "ImageTypeNotSupportedKeyLogin"},
		{name: "URL too long", fault: func(f *faultCloud) { f.refuse["i-000"] = kecRefusal("", 414) },
			want: "HTTP 414"},
		{name: "wait_stopped times out", fault: func(f *faultCloud) { f.slowStop["i-000"] = 90 * time.Second },
			want: "wait_stopped: timed out after 1m0s"},
		{name: "submit in doubt and never taken", fault: func(f *faultCloud) { f.dropped["i-000"] = maxResubmits + 1 },
			want: "gave up after 4 submissions"},
		{name: "asynchronous failure leaves it shut off", stopsItself: true, fault: func(f *faultCloud) { f.failStopped["i-000"] = true },
			want: "EcsRebuildFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(1, true)
				cloud.caps.ChangeStopsRunning = tt.stopsItself
				tt.fault(cloud)
				j := openTestJournal(t)
				sum, events, err := faultRun{journal: j, settle: 5 * time.Second}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
				if err != nil {
					t.Fatal(err)
				}
				if sum.Failed != 1 {
					t.Fatalf("summary %+v, want 1 failed", sum)
				}
				reason := failures(events)["i-000"]
				if !strings.Contains(reason, tt.want) || !strings.HasSuffix(reason, "; started again") {
					t.Errorf("failure %q, want the reason (%q) and \"started again\"", reason, tt.want)
				}
				if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning || st.Image != "old" {
					t.Errorf("instance %+v, want running on its old image", st)
				}
				// The journal remembers that it ran, for a later run that
				// finds it stopped; nothing is in doubt or broken.
				if e := j.Entry("fake", "i-000"); e.InDoubt != nil || e.Broken != nil || (e.Pending != nil && !e.Pending.WasRunning) {
					t.Errorf("journal entry %+v, want neither in doubt nor broken", e)
				}
			})
		})
	}
}

// TestRefusedChangeStartFailsLeftStopped: when the start after a refused
// change fails, the failure says the instance was left stopped and why, and
// the journal keeps it open so that the next run starts it.
func TestRefusedChangeStartFailsLeftStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, true)
		cloud.refuse["i-000"] = kecRefusal("ImageIdInvalidParameterValue", 400)
		cloud.startErr["i-000"] = kecRefusal("InstanceStateNotSupported", 400)
		j := openTestJournal(t)
		_, events, err := faultRun{journal: j}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
		if err != nil {
			t.Fatal(err)
		}
		reason := failures(events)["i-000"]
		if !strings.Contains(reason, "ImageIdInvalidParameterValue") || !strings.Contains(reason, "left stopped: could not start: ") ||
			!strings.Contains(reason, "InstanceStateNotSupported") {
			t.Errorf("failure %q, want the refusal and \"left stopped: could not start: InstanceStateNotSupported\"", reason)
		}
		if p := j.Pending(); len(p) != 1 || !p[0].WasRunning {
			t.Errorf("journal pending %+v, want the instance open, marked as having run", p)
		}
	})
}

// TestStopLostAnswerGoesOn: a stop or start whose answer is lost is safe to
// repeat: the engine asks the cloud and goes on (stopping again while the
// instance still runs), instead of failing the instances of the batch.
func TestStopLostAnswerGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(19, true)
		for i := 0; i < 19; i++ {
			id := fmt.Sprintf("i-%03d", i)
			switch i % 3 {
			case 0:
				cloud.stopLost[id] = 1 // stopped, answer lost
			case 1:
				cloud.stopDropped[id] = 1 // lost before the cloud: still running
			case 2:
				cloud.startLost[id] = 1
			}
		}
		sum, events, err := faultRun{}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 19))
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Converged() || sum.Done != 19 {
			t.Fatalf("summary %+v, failures %v; want all 19 done", sum, failures(events))
		}
		for id, in := range cloud.inst {
			if in.State != providers.StateRunning || in.Image != "new" || cloud.changes[id] != 1 {
				t.Errorf("%s: %+v, %d changes; want running on the new image, changed once", id, in, cloud.changes[id])
			}
		}
		if n := cloud.calls(&cloud.stopCalls, "i-001"); n != 2 {
			t.Errorf("i-001 (stop lost before the cloud) stopped %d times, want 2", n)
		}
		if n := cloud.calls(&cloud.stopCalls, "i-000"); n != 1 {
			t.Errorf("i-000 (stopped, answer lost) stopped %d times, want 1", n)
		}
	})
}

// TestQueuedChangeNotResubmitted: a change whose answer was lost and that the
// cloud queued for a few seconds before it showed is not submitted again.
func TestQueuedChangeNotResubmitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, false)
		cloud.queued["i-000"] = 7 * time.Second // more than two poll intervals
		sum, events, err := faultRun{poll: time.Second}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Converged() {
			t.Fatalf("summary %+v, failures %v", sum, failures(events))
		}
		if n := cloud.calls(&cloud.changeCalls, "i-000"); n != 1 || cloud.changes["i-000"] != 1 {
			t.Errorf("submitted %d times, changed %d times; want once", n, cloud.changes["i-000"])
		}
	})
}

// TestSettleWindowThenResubmits: a change the cloud never shows is called
// not taken only after the whole settle window, then submitted again.
func TestSettleWindowThenResubmits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, false)
		cloud.dropped["i-000"] = 1
		start := time.Now()
		var resubmitted time.Duration
		wrap := func(e *Executor) {
			obs := e.obs
			e.obs = ObserverFunc(func(ev Event) {
				if ev.Type == EventInstanceStep && ev.Step == StepSubmit && cloud.calls(&cloud.changeCalls, "i-000") == 1 {
					resubmitted = time.Since(start)
				}
				obs.Observe(ev)
			})
		}
		sum, _, err := faultRun{poll: time.Second, settle: 40 * time.Second, wrap: wrap}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
		if err != nil || !sum.Converged() {
			t.Fatalf("summary %+v, %v", sum, err)
		}
		if resubmitted < 40*time.Second || resubmitted > 45*time.Second {
			t.Errorf("resubmitted after %s, want just after the 40s settle window", resubmitted)
		}
	})
}

// TestBudgetExceededStartsNoMore: once maxFailures is exceeded, no further
// instance starts, not even the one that was waiting for a slot.
func TestBudgetExceededStartsNoMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(10, false)
		cloud.fail["i-000"] = true
		cloud.changeDelay["i-000"] = time.Second
		cloud.changeDelay["i-001"] = 10 * time.Second
		sum, _, err := faultRun{}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 2))
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Halted || sum.Failed != 1 || sum.Done != 1 || sum.Pending != 8 {
			t.Errorf("summary %+v, want halted with 1 failed, 1 done (in flight), 8 not started", sum)
		}
		for i := 2; i < 10; i++ {
			id := fmt.Sprintf("i-%03d", i)
			if n := cloud.calls(&cloud.changeCalls, id); n != 0 {
				t.Errorf("%s submitted after the budget was exceeded", id)
			}
		}
	})
}

// TestSignalStartsNoMore: after the first signal no instance starts, not even
// the one that was waiting for a slot.
func TestSignalStartsNoMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(5, false)
		cloud.changeDelay["i-000"] = 10 * time.Second
		drain := make(chan struct{})
		time.AfterFunc(5*time.Second, func() { close(drain) })
		sum, _, err := faultRun{drain: drain}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Done != 1 || sum.Pending != 4 || !sum.Interrupt {
			t.Errorf("summary %+v, want the one in flight done and 4 not started", sum)
		}
	})
}

// TestSecondSignalIsInterruptedNotFailed: instances abandoned by a second
// signal are interrupted (in doubt, for the next run), not failed, and do
// not trip maxFailures.
func TestSecondSignalIsInterruptedNotFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(4, false)
		for i := 0; i < 4; i++ {
			cloud.slowJob[fmt.Sprintf("i-%03d", i)] = time.Hour
		}
		j := openTestJournal(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		drain := make(chan struct{})
		time.AfterFunc(time.Minute, func() { close(drain) })
		time.AfterFunc(2*time.Minute, cancel)
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 2)
		p.Rollout.InstanceTimeout = 2 * time.Hour
		sum, events, err := faultRun{journal: j, ctx: ctx, drain: drain}.run(t, cloud, p)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 0 || sum.Interrupted != 2 || sum.Pending != 2 || sum.Halted || !sum.Interrupt || sum.Converged() {
			t.Errorf("summary %+v, want 2 interrupted, 2 not started, none failed, not halted", sum)
		}
		var interrupted int
		for _, ev := range events {
			switch ev.Type {
			case EventInstanceFail:
				t.Errorf("instance_failed for %s: %v", ev.Change.Instance.ID, ev.Err)
			case EventInstanceInterrupted:
				interrupted++
				if !strings.Contains(ev.Err.Error(), "interrupted during wait_done") {
					t.Errorf("interrupted event says %q", ev.Err)
				}
			}
		}
		if interrupted != 2 || len(j.Pending()) != 2 {
			t.Errorf("%d interrupted events, %d open in the journal; want 2 and 2", interrupted, len(j.Pending()))
		}
	})
}

// TestJournalFailureStopsWave: after a journal write fails, no other instance
// is submitted; the one in flight is followed to its end.
func TestJournalFailureStopsWave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(6, false)
		j := openTestJournal(t)
		failed := false
		wrap := func(e *Executor) {
			inner := e.record
			e.record = func(r Record) error {
				if r.Event == EventSubmitted && r.ID == "i-001" && !failed {
					failed = true
					return errors.New("write journal: no space left on device")
				}
				return inner(r)
			}
		}
		sum, _, err := faultRun{journal: j, wrap: wrap}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
		if err == nil || !strings.Contains(err.Error(), "no space left on device") {
			t.Fatalf("Apply error %v, want the journal's", err)
		}
		if sum.Done != 2 || sum.Pending != 4 || sum.Failed != 0 {
			t.Errorf("summary %+v, want 2 done (i-001 followed to its end), 4 not started", sum)
		}
		for i := 2; i < 6; i++ {
			if n := cloud.calls(&cloud.changeCalls, fmt.Sprintf("i-%03d", i)); n != 0 {
				t.Errorf("i-%03d submitted after the journal failed", i)
			}
		}
	})
}

// TestJournalFailureNoMoreIntents: instances already in flight when the
// journal fails do not submit (their intent cannot be written); one that
// reimage stopped is started again.
func TestJournalFailureNoMoreIntents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(2, true)
		cloud.slowStop["i-001"] = 5 * time.Second
		j := openTestJournal(t)
		wrap := func(e *Executor) {
			inner := e.record
			e.record = func(r Record) error {
				if r.Event == EventSubmitted && r.ID == "i-000" {
					return errors.New("write journal: input/output error")
				}
				return inner(r)
			}
		}
		sum, _, err := faultRun{journal: j, wrap: wrap}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 2))
		if err == nil {
			t.Fatal("Apply succeeded with a failed journal")
		}
		if n := cloud.calls(&cloud.changeCalls, "i-001"); n != 0 {
			t.Errorf("i-001 submitted %d times after the journal failed", n)
		}
		if st, _ := cloud.Status(context.Background(), "i-001"); st.State != providers.StateRunning {
			t.Errorf("i-001 %+v, want running again", st)
		}
		if sum.Done != 1 {
			t.Errorf("summary %+v, want i-000 done", sum)
		}
	})
}

// TestPollForbiddenFailsFast: a permanent error while waiting (403) fails the
// instance with that error at once, not as a timeout half an hour later.
func TestPollForbiddenFailsFast(t *testing.T) {
	forbidden := &providers.APIError{Type: "huaweicloud", Operation: "ShowJob", Code: "Ecs.0103", HTTPStatus: 403, Message: "forbidden"}
	for _, tt := range []struct {
		name  string
		fault func(*faultCloud)
	}{
		{"wait_done", func(f *faultCloud) { f.progressErr["i-000"] = forbidden }},
		{"wait_stopped", func(f *faultCloud) { f.errAfterStop["i-000"] = forbidden }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(1, true)
				tt.fault(cloud)
				p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
				p.Rollout.InstanceTimeout = 30 * time.Minute
				start := time.Now()
				_, events, err := faultRun{}.run(t, cloud, p)
				if err != nil {
					t.Fatal(err)
				}
				reason := failures(events)["i-000"]
				if !strings.HasPrefix(reason, tt.name+": ") || !strings.Contains(reason, "Ecs.0103 (HTTP 403") || strings.Contains(reason, "timed out") {
					t.Errorf("failure %q, want the 403 at %s", reason, tt.name)
				}
				if d := time.Since(start); d > time.Minute {
					t.Errorf("failed after %s, want at once", d)
				}
			})
		})
	}
}

// TestPollTimeoutSaysLastError: a wait that times out while polls fail says
// what the last poll error was.
func TestPollTimeoutSaysLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFaultCloud(1, false)
		cloud.progressErr["i-000"] = &providers.APIError{Type: "ksyun", Operation: "DescribeInstances", Code: "InternalError", HTTPStatus: 500}
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
		p.Rollout.InstanceTimeout = 30 * time.Minute
		_, events, err := faultRun{}.run(t, cloud, p)
		if err != nil {
			t.Fatal(err)
		}
		reason := failures(events)["i-000"]
		if !strings.Contains(reason, "timed out after 30m0s") || !strings.Contains(reason, "last poll: ksyun: DescribeInstances: InternalError (HTTP 500)") {
			t.Errorf("failure %q, want the timeout and the last poll's error", reason)
		}
	})
}

// TestRecheckBeforeStop: an instance changed by someone else after the
// look-up is not touched: it is reported as it is now (ok or blocked).
func TestRecheckBeforeStop(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*providers.Instance)
		want   plan.Action
	}{
		{"already on the target image", func(in *providers.Instance) { in.Image = "new" }, plan.ActionOK},
		{"busy", func(in *providers.Instance) { in.State, in.RawState = providers.StateInProgress, "rebuilding" }, plan.ActionBlocked},
		{"error state", func(in *providers.Instance) { in.State, in.RawState = providers.StateError, "error" }, plan.ActionBlocked},
		{"gone", func(in *providers.Instance) { in.State = providers.StateNotFound }, plan.ActionBlocked},
		{"stopped by someone", func(in *providers.Instance) { in.State = providers.StateStopped }, plan.ActionBlocked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := newFaultCloud(2, true)
				after := func() { cloud.set("i-001", tt.change) }
				sum, events, err := faultRun{afterLookup: after}.run(t, cloud, testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1))
				if err != nil {
					t.Fatal(err)
				}
				if n := cloud.calls(&cloud.stopCalls, "i-001") + cloud.calls(&cloud.changeCalls, "i-001"); n != 0 {
					t.Errorf("i-001 touched %d times after someone else changed it", n)
				}
				if sum.Done != 1 || sum.Superseded != 1 || sum.Failed != 0 || sum.Pending != 0 {
					t.Errorf("summary %+v, want 1 done, 1 superseded", sum)
				}
				var got *plan.Change
				for _, ev := range events {
					if ev.Type == EventInstanceSkipped {
						got = ev.Change
					}
				}
				if got == nil || got.Action != tt.want || got.Instance.ID != "i-001" {
					t.Errorf("skipped event %+v, want i-001 %s", got, tt.want)
				}
			})
		})
	}
}

// TestCanaryPerImage: the first wave holds one instance of every (provider,
// target image) pair; canary: first keeps plan order.
func TestCanaryPerImage(t *testing.T) {
	for _, tt := range []struct {
		canary    string
		wantFirst string
		wantSizes string
	}{
		{plan.CanaryPerImage, "[i-000 i-006]", "[2 5 3]"},
		{plan.CanaryFirst, "[i-000]", "[1 5 4]"},
	} {
		t.Run(tt.canary, func(t *testing.T) {
			cloud := newFaultCloud(10, false)
			p := testPlan(cloud.fakeCloud, canaryWaves, plan.Size{}, 1)
			p.Rollout.Canary = tt.canary
			for _, in := range p.Instances[6:] {
				in.Image = "other"
			}
			_, events, err := faultRun{poll: time.Millisecond}.run(t, cloud, p)
			if err != nil {
				t.Fatal(err)
			}
			var first []string
			var sizes []int
			for _, ev := range events {
				switch {
				case ev.Type == EventWaveStart:
					sizes = append(sizes, ev.WaveSize)
				case ev.Type == EventInstanceStart && ev.Wave == 1:
					first = append(first, ev.Change.Instance.ID)
				}
			}
			if fmt.Sprint(first) != tt.wantFirst || fmt.Sprint(sizes) != tt.wantSizes {
				t.Errorf("first wave %v, sizes %v; want %s, %s", first, sizes, tt.wantFirst, tt.wantSizes)
			}
		})
	}
}
