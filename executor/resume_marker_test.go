package executor

import (
	"context"
	"errors"
	"time"

	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// A crash after a reinstall's journal intent and before its intent marker was
// set: the marker is written before every submission, so an instance whose
// markers show no intent since the last token this journal saw done was never
// submitted to. The next run closes the intent (the instance, stopped for it,
// runs again) and carries the token out once, instead of blocking it as in
// doubt until a person acknowledges it. Markers that leave any doubt (the
// token's intent open, or an intent this journal does not know) keep it in
// doubt, never resubmitted.
func TestReinstallCrashBeforeIntentMarkerIsNotInDoubt(t *testing.T) {
	tests := []struct {
		name  string
		marks map[string]string // on i-000 when the next run starts
		done  string            // the token this journal saw done before
		doubt bool              // want it blocked in doubt, never submitted
	}{
		{name: "no marker ever", marks: nil},
		{name: "markers of the token done before", marks: map[string]string{MarkIntent: EncodeToken("t0"), MarkReinstall: EncodeToken("t0")}, done: "t0"},
		{name: "the token's intent open", marks: map[string]string{MarkIntent: EncodeToken("t1")}, doubt: true},
		{name: "an intent this journal does not know", marks: map[string]string{MarkIntent: EncodeToken("t9"), MarkReinstall: EncodeToken("t9")}, done: "t0", doubt: true},
		{name: "an intent closed by a refusal", marks: map[string]string{MarkIntent: markNone}, doubt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := newMarkerCloud(1, true)
			if tt.marks != nil {
				cloud.marks["i-000"] = tt.marks
			}
			// The crashed run had stopped it for the reinstall.
			cloud.inst["i-000"].State = providers.StateStopped
			p := reinstallPlan(cloud)
			j := openJournal(t, t.TempDir())
			if tt.done != "" {
				must(t, j.Append(Record{Event: EventDone, Provider: "fake", ID: "i-000", Token: tt.done}))
			}
			must(t, j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "reinstall", Image: "new", Token: "t1", WasRunning: true}))
			sum, changes := flow(t, cloud, p, j)
			c := actionOf(changes, "i-000")
			if tt.doubt {
				if c.Action != plan.ActionBlocked || !c.InDoubt || cloud.reinstalls["i-000"] != 0 {
					t.Fatalf("i-000 %s (%s), %d reinstalls; want blocked in doubt, never submitted", c.Action, c.Reason, cloud.reinstalls["i-000"])
				}
				return
			}
			if !sum.Converged() || cloud.reinstalls["i-000"] != 1 {
				t.Fatalf("%+v, %d reinstalls, i-000 %s (%s); want converged, reinstalled once", sum, cloud.reinstalls["i-000"], c.Action, c.Reason)
			}
			if e := j.Entry("fake", "i-000"); e.DoneToken != "t1" || e.InDoubt != nil || e.Pending != nil {
				t.Fatalf("journal %+v, want t1 done, nothing open", e)
			}
			if st := cloud.inst["i-000"].State; st != providers.StateRunning {
				t.Fatalf("i-000 %v, want running again", st)
			}
			if _, changes := flow(t, cloud, p, j); actionOf(changes, "i-000").Action != plan.ActionOK || cloud.reinstalls["i-000"] != 1 {
				t.Fatalf("the next run: i-000 %s, %d reinstalls; want ok, once", actionOf(changes, "i-000").Action, cloud.reinstalls["i-000"])
			}
		})
	}
}

// A crash after a reinstall's done marker was set and before the journal's
// done record: the marker proves the token carried out, so the next run
// records it done instead of blocking it in doubt, and never submits it again.
func TestReinstallCrashAfterDoneMarkerIsDone(t *testing.T) {
	cloud := newMarkerCloud(1, true)
	cloud.marks["i-000"] = map[string]string{MarkIntent: EncodeToken("t1"), MarkReinstall: EncodeToken("t1")}
	p := reinstallPlan(cloud)
	j := openJournal(t, t.TempDir())
	must(t, j.Append(Record{Event: EventIntent, Provider: "fake", ID: "i-000", Action: "reinstall", Image: "new", Token: "t1", WasRunning: true}))
	sum, changes := flow(t, cloud, p, j)
	if c := actionOf(changes, "i-000"); c.Action != plan.ActionOK || !sum.Converged() || cloud.reinstalls["i-000"] != 0 {
		t.Fatalf("i-000 %s (%s), %+v, %d reinstalls; want ok, converged, never submitted", c.Action, c.Reason, sum, cloud.reinstalls["i-000"])
	}
	if e := j.Entry("fake", "i-000"); e.DoneToken != "t1" || e.InDoubt != nil || e.Pending != nil {
		t.Fatalf("journal %+v, want t1 done, nothing open", e)
	}
}

// The order that makes a crash between the two safe: a reinstall's journal
// intent is written (and synced) before its intent marker, and the marker
// before the submission. When the intent cannot be written, neither the
// marker nor the reinstall happens, so no marker ever announces a reinstall
// the journal does not know (which would block the instance in every run,
// this one's included, until a person acknowledges it).
func TestReinstallIntentBeforeMarkerBeforeSubmission(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	p := reinstallPlan(cloud)
	j := openJournal(t, t.TempDir())
	provs := map[string]providers.Provider{"fake": cloud}
	ctx := context.Background()
	obs, err := Lookup(ctx, p, provs, nil)
	must(t, err)
	marks, err := ReadMarks(ctx, p, provs)
	must(t, err)
	changes := plan.DiffHistory(p, obs, HistoryOf(p, j, marks))
	e := New(Options{Plan: p, Providers: provs, Journal: j, PollInterval: time.Millisecond, Settle: 20 * time.Millisecond})
	inner := e.record
	e.record = func(r Record) error {
		if r.Event == EventIntent {
			return errors.New("write journal: input/output error")
		}
		return inner(r)
	}
	must(t, e.ResolveSecrets(changes))
	if _, err := e.Apply(ctx, changes); err == nil {
		t.Fatal("Apply succeeded with the intent unwritten")
	}
	if mk := cloud.marks["i-000"]; mk[MarkIntent] != "" {
		t.Errorf("intent marker %q set though the journal's intent was never written", mk[MarkIntent])
	}
	if n := cloud.reinstalls["i-000"]; n != 0 {
		t.Errorf("reinstalled %d times without a journal intent", n)
	}
}
