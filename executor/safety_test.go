package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// A reinstall whose answer was lost, and which shows no sign on the instance,
// is recorded in doubt; the same run's second look-up and every later run
// block it until it is acknowledged; it is carried out once.
func TestReinstallLostAnswerIsBlockedUntilAck(t *testing.T) {
	for _, marker := range []bool{true, false} {
		name := map[bool]string{true: "marker", false: "journal only"}[marker]
		t.Run(name, func(t *testing.T) {
			cloud := newMarkerCloud(2, false)
			cloud.lostReply["i-000"] = 1
			var prov providers.Provider = cloud
			if !marker {
				prov = plainCloud{cloud}
			}
			p := reinstallPlan(cloud)
			j := openJournal(t, t.TempDir())
			sum, _ := flow(t, prov, p, j)
			if sum.Converged() || sum.Failed != 1 || sum.Done != 1 {
				t.Fatalf("first run %+v, want i-000 failed in doubt, i-001 done", sum)
			}
			if e := j.Entry("fake", "i-000"); e.InDoubt == nil || e.Pending != nil {
				t.Fatalf("journal entry %+v, want in doubt and nothing pending", e)
			}
			for run := 2; run <= 3; run++ {
				sum, changes := flow(t, prov, p, j)
				c := actionOf(changes, "i-000")
				if c.Action != plan.ActionBlocked || !strings.Contains(c.Reason, "reinstall in doubt") || !strings.Contains(c.Reason, "reimage ack") {
					t.Fatalf("run %d: i-000 %s (%s), want blocked as reinstall in doubt", run, c.Action, c.Reason)
				}
				if sum.Converged() || sum.InDoubt != 1 {
					t.Fatalf("run %d: %+v, want not converged with 1 in doubt", run, sum)
				}
			}
			if _, err := Ack(context.Background(), j, map[string]providers.Provider{"fake": prov}, p.Instances[:1], "ops@host"); err != nil {
				t.Fatal(err)
			}
			sum, changes := flow(t, prov, p, j)
			if c := actionOf(changes, "i-000"); c.Action != plan.ActionOK || !sum.Converged() {
				t.Fatalf("after ack: i-000 %s (%s), %+v; want ok (the token counts as done) and converged", c.Action, c.Reason, sum)
			}
			if n := cloud.reinstalls["i-000"]; n != 1 {
				t.Errorf("i-000 reinstalled %d times, want once", n)
			}
		})
	}
}

// A crash between the intent of a reinstall and its answer: the next run
// cannot tell whether it happened, so it records it in doubt and never
// submits it again.
func TestReinstallCrashBetweenIntentAndAnswerIsInDoubt(t *testing.T) {
	for _, marker := range []bool{true, false} {
		name := map[bool]string{true: "intent marker set", false: "journal only"}[marker]
		t.Run(name, func(t *testing.T) {
			crashBetweenIntentAndAnswer(t, marker)
		})
	}
}

func crashBetweenIntentAndAnswer(t *testing.T, marker bool) {
	cloud := newMarkerCloud(1, false)
	var prov providers.Provider = cloud
	if marker {
		// The marker is set before the submission: a crash after it may
		// come after the submission too.
		cloud.marks["i-000"] = map[string]string{MarkIntent: EncodeToken("t1")}
	} else {
		prov = plainCloud{cloud}
	}
	p := reinstallPlan(cloud)
	dir := t.TempDir()
	j := openJournal(t, dir)
	if err := j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "reinstall", Image: "new", Token: "t1"}); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		sum, changes := flow(t, prov, p, j)
		if c := actionOf(changes, "i-000"); c.Action != plan.ActionBlocked || !c.InDoubt {
			t.Fatalf("run %d: %s (%s), want blocked in doubt", run, c.Action, c.Reason)
		}
		if sum.Converged() {
			t.Fatalf("run %d converged with a reinstall in doubt", run)
		}
	}
	if n := cloud.reinstalls["i-000"]; n != 0 {
		t.Errorf("reinstalled %d times after the crash, want never", n)
	}
}

// A reinstall slower than instanceTimeout is never submitted again: it is in
// doubt, in this run and the next.
func TestReinstallSlowerThanInstanceTimeoutIsInDoubt(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	cloud.slow["i-000"] = true
	p := reinstallPlan(cloud)
	p.Rollout.InstanceTimeout = 50 * time.Millisecond
	j := openJournal(t, t.TempDir())
	if sum, _ := flow(t, cloud, p, j); sum.Failed != 1 {
		t.Fatalf("first run %+v, want the reinstall to time out", sum)
	}
	cloud.mu.Lock()
	cloud.slow["i-000"] = false
	cloud.mu.Unlock()
	_, changes := flow(t, cloud, p, j)
	if c := actionOf(changes, "i-000"); c.Action != plan.ActionBlocked || !c.InDoubt {
		t.Fatalf("second run: %s (%s), want blocked in doubt", c.Action, c.Reason)
	}
	if n := cloud.reinstalls["i-000"]; n != 1 {
		t.Errorf("reinstalled %d times, want once", n)
	}
}

// An earlier run's reinstall whose ECS job can no longer be found (jobs older
// than a day are gone): resolving it is bounded by instanceTimeout and ends in
// doubt, not failed (which would reinstall again).
func TestReinstallJobNotFoundIsInDoubt(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	cloud.lostJob["job-old"] = true
	p := reinstallPlan(cloud)
	p.Rollout.InstanceTimeout = 50 * time.Millisecond
	j := openJournal(t, t.TempDir())
	must(t, j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "reinstall", Image: "new", Token: "t1"}))
	must(t, j.Append(Record{Event: EventSubmitted, Provider: "fake", ID: "i-000", JobID: "job-old"}))
	start := time.Now()
	sum, changes := flow(t, cloud, p, j)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("resolving took %s: not bounded by instanceTimeout", d)
	}
	if c := actionOf(changes, "i-000"); c.Action != plan.ActionBlocked || !c.InDoubt || sum.Converged() {
		t.Fatalf("%s (%s) %+v, want blocked in doubt, not converged", c.Action, c.Reason, sum)
	}
	if n := cloud.reinstalls["i-000"]; n != 0 {
		t.Errorf("reinstalled %d times, want never", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A done token lives on the instance: a new state directory (a new journal:
// another host, a renamed plan, another shard count) does not carry it out
// again.
func TestDoneTokenSurvivesNewJournal(t *testing.T) {
	cloud := newMarkerCloud(3, true)
	p := reinstallPlan(cloud)
	if sum, _ := flow(t, cloud, p, openJournal(t, t.TempDir())); !sum.Converged() || sum.Done != 3 {
		t.Fatalf("first run %+v", sum)
	}
	sum, changes := flow(t, cloud, p, openJournal(t, t.TempDir()))
	if sum.Total != 0 || !sum.Converged() {
		t.Fatalf("run with a new journal %+v, want nothing to do", sum)
	}
	for _, c := range changes {
		if c.Action != plan.ActionOK {
			t.Errorf("%s: %s (%s), want ok", c.Instance.ID, c.Action, c.Reason)
		}
	}
	for id, n := range cloud.reinstalls {
		if n != 1 {
			t.Errorf("%s reinstalled %d times, want once", id, n)
		}
	}
	if got := cloud.marks["i-000"][MarkReinstall]; got != EncodeToken("t1") {
		t.Errorf("done marker %q", got)
	}
}

// Two runs from different state directories take different locks and can
// overlap: an open intent marker tells the second that the reinstall is in
// flight elsewhere (or in doubt), and it leaves the instance alone.
func TestOpenIntentMarkerBlocksAnotherStateDirectory(t *testing.T) {
	cloud := newMarkerCloud(2, false)
	p := reinstallPlan(cloud)
	must(t, cloud.SetMark(context.Background(), "i-000", MarkIntent, EncodeToken("t1")))
	sum, changes := flow(t, cloud, p, openJournal(t, t.TempDir()))
	c := actionOf(changes, "i-000")
	if c.Action != plan.ActionBlocked || !strings.Contains(c.Reason, "another host or state directory") {
		t.Fatalf("i-000 %s (%s), want blocked as in flight elsewhere", c.Action, c.Reason)
	}
	if cloud.reinstalls["i-000"] != 0 || cloud.reinstalls["i-001"] != 1 || sum.Converged() {
		t.Fatalf("reinstalls %v, %+v; want only i-001, not converged", cloud.reinstalls, sum)
	}
}

// A reinstall the cloud refused outright never happened: its intent marker is
// closed, and the next run may submit it (after the plan is fixed).
func TestRefusedReinstallClosesIntentMarker(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	p := reinstallPlan(cloud)
	cloud.refuse["i-000"] = &providers.APIError{Code: "ImageIdInvalidParameterValue", Message: "bad image"}
	j := openJournal(t, t.TempDir())
	if sum, _ := flow(t, cloud, p, j); sum.Failed != 1 {
		t.Fatalf("%+v, want failed", sum)
	}
	if got := cloud.marks["i-000"][MarkIntent]; got != markNone {
		t.Fatalf("intent marker %q after a refusal, want %q", got, markNone)
	}
	delete(cloud.refuse, "i-000")
	if sum, _ := flow(t, cloud, p, openJournal(t, t.TempDir())); sum.Done != 1 || cloud.reinstalls["i-000"] != 1 {
		t.Fatalf("%+v reinstalls %v, want the reinstall done once", sum, cloud.reinstalls)
	}
}

// A running instance reimage stopped, whose change was then refused, runs
// again: the failed record keeps was_running, and the next run starts it even
// though the plan now protects it, closing its intent.
func TestRefusedChangeOfStoppedInstanceRunsAgainWhenProtected(t *testing.T) {
	cloud := newMarkerCloud(1, true)
	cloud.refuse["i-000"] = &providers.APIError{Code: "ImageIdInvalidParameterValue", Message: "bad image"}
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 1}}}, plan.Size{}, 1)
	j := openJournal(t, t.TempDir())
	if sum, _ := flow(t, cloud, p, j); sum.Failed != 1 {
		t.Fatalf("%+v, want failed", sum)
	}
	// Whether or not this run started it again itself, the journal must say it ran.
	must(t, cloud.Stop(context.Background(), "i-000"))
	p.Instances[0].Protect = true
	flow(t, cloud, p, j)
	if st, _ := cloud.Status(context.Background(), "i-000"); st.State != providers.StateRunning {
		t.Fatalf("state %v, want running again", st.State)
	}
	if len(j.Pending()) != 0 {
		t.Fatalf("intent dangles: %+v", j.Pending())
	}
}

// An instance an earlier run stopped and that has since left the plan (or the
// shard) is started again, and its intent closed: plan -detailed-exitcode does
// not report it forever.
func TestStoppedInstanceRemovedFromPlanIsStartedAgain(t *testing.T) {
	cloud := newMarkerCloud(2, false)
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 1}}}, plan.Size{}, 1)
	j := openJournal(t, t.TempDir())
	must(t, j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-001", Action: "change", Image: "new", WasRunning: true, Reason: ReasonStopped}))
	p.Instances = p.Instances[:1]
	flow(t, cloud, p, j)
	if st, _ := cloud.Status(context.Background(), "i-001"); st.State != providers.StateRunning || st.Image != "old" {
		t.Fatalf("i-001 %+v, want running again on its old image", st)
	}
	if len(j.Pending()) != 0 {
		t.Fatalf("intent dangles: %+v", j.Pending())
	}
}

// Instances a run broke count against maxFailures in every later run and keep
// it from converging, until healthy again or acknowledged.
func TestBrokenInstanceKeepsLaterRunsFromConverging(t *testing.T) {
	cloud := newMarkerCloud(3, false)
	cloud.fail["i-000"] = true
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Percent: 100, IsPercent: true}}}, plan.Size{Count: 1}, 1)
	j := openJournal(t, t.TempDir())
	if sum, _ := flow(t, cloud, p, j); sum.Failed != 1 || sum.Done != 2 {
		t.Fatalf("first run %+v", sum)
	}
	if e := j.Entry("fake", "i-000"); e.Broken == nil {
		t.Fatalf("i-000 not recorded broken: %+v", e)
	}
	sum, _ := flow(t, cloud, p, j)
	if sum.Converged() || sum.Broken != 1 {
		t.Fatalf("second run %+v, want not converged with 1 broken", sum)
	}
	// Healthy again (repaired by hand, on the target image): converged.
	must(t, cloud.set("i-000", func(in *providers.Instance) { in.State, in.Image = providers.StateStopped, "new" }))
	if sum, _ := flow(t, cloud, p, j); !sum.Converged() || sum.Broken != 0 {
		t.Fatalf("after repair %+v, want converged", sum)
	}
	if e := j.Entry("fake", "i-000"); e.Broken != nil {
		t.Fatalf("still broken in the journal: %+v", e.Broken)
	}
}

// Broken instances count against maxFailures: with a budget of 0, a later run
// starts nothing.
func TestBrokenInstanceCountsAgainstMaxFailures(t *testing.T) {
	cloud := newMarkerCloud(3, false)
	cloud.fail["i-000"] = true
	p := testPlan(cloud.fakeCloud, []plan.Wave{{Size: plan.Size{Count: 1}}}, plan.Size{}, 1)
	j := openJournal(t, t.TempDir())
	flow(t, cloud, p, j) // the canary breaks i-000; the run halts
	sum, _ := flow(t, cloud, p, j)
	if !sum.Halted || sum.Done != 0 {
		t.Fatalf("%+v, want halted before any start: the broken instance exceeds maxFailures 0", sum)
	}
	if _, err := Ack(context.Background(), j, map[string]providers.Provider{"fake": cloud}, p.Instances[:1], "ops@host"); err != nil {
		t.Fatal(err)
	}
	if sum, _ := flow(t, cloud, p, j); sum.Done != 2 || sum.Halted {
		t.Fatalf("after ack %+v, want the two others done", sum)
	}
}

func TestAckNothingToAcknowledge(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	p := reinstallPlan(cloud)
	j := openJournal(t, t.TempDir())
	got, err := Ack(context.Background(), j, map[string]providers.Provider{"fake": cloud}, p.Instances, "ops@host")
	var nothing *NothingToAckError
	if !errors.As(err, &nothing) || len(got) != 0 {
		t.Fatalf("Ack = %+v, %v; want nothing acknowledged, and the error", got, err)
	}
}

func TestEncodeTokenValidForBothClouds(t *testing.T) {
	for _, tok := range []string{"t1", "2026-11-29", "a b", "ü", strings.Repeat("x", 200), "none", "x,y"} {
		v := EncodeToken(tok)
		if len(v) > 131 || v == markNone || !plainToken(v) {
			t.Errorf("EncodeToken(%q) = %q: not a valid marker value", tok, v)
		}
	}
	if EncodeToken("a b") == EncodeToken("a_b") {
		t.Error("two tokens share an encoding")
	}
}

var _ = errors.New
