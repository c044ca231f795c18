package executor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// markFaults are the faults of markerCloud's marker writes and reads.
type markFaults struct {
	// lost: this many writes of a key take effect, then their answer is lost.
	lost map[string]int
	// dropped: this many writes of a key are lost before they reach the cloud
	// (no effect), and the client cannot tell them from lost answers.
	dropped map[string]int
	// readsDown: Marks fails.
	readsDown bool
	// writes counts the writes of each key.
	writes map[string]int
}

func lostMarkAnswer(key string) error {
	return &providers.InDoubtError{Type: "fake", Operation: "SetMark " + key, Cause: errors.New("connection reset by peer")}
}

// faultySetMark applies the marker faults around markerCloud's SetMark.
func (m *markerCloud) faultySetMark(ctx context.Context, id, key, value string) error {
	m.mu.Lock()
	f := &m.markFaults
	if f.writes == nil {
		f.writes = map[string]int{}
	}
	f.writes[key]++
	if f.dropped[key] > 0 {
		f.dropped[key]--
		m.mu.Unlock()
		return lostMarkAnswer(key)
	}
	lost := f.lost[key] > 0
	if lost {
		f.lost[key]--
	}
	m.mu.Unlock()
	if err := m.setMark(id, key, value); err != nil {
		return err
	}
	if lost {
		return lostMarkAnswer(key)
	}
	return nil
}

// Marker writes are idempotent (same key, same value), so a lost answer is
// not a reason to block an instance: the markers are read back, or written
// again, and the reinstall goes on, carried out once and recorded done, not in
// doubt, with both markers confirmed on the instance.
func TestIntentMarkerAnswerLostGoesOn(t *testing.T) {
	tests := []struct {
		name   string
		faults markFaults
	}{
		{name: "intent marker written, its answer lost", faults: markFaults{lost: map[string]int{MarkIntent: 1}}},
		{name: "intent marker written, every answer lost", faults: markFaults{lost: map[string]int{MarkIntent: 99}}},
		{name: "intent marker lost before the cloud, then written", faults: markFaults{dropped: map[string]int{MarkIntent: 1}}},
		{name: "done marker lost before the cloud, then written", faults: markFaults{dropped: map[string]int{MarkReinstall: 1}}},
		{name: "done marker written, every answer lost", faults: markFaults{lost: map[string]int{MarkReinstall: 99}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := newMarkerCloud(1, true)
			cloud.markFaults = tt.faults
			p := reinstallPlan(cloud)
			j := openJournal(t, t.TempDir())
			sum, changes := flow(t, cloud, p, j)
			if !sum.Converged() || sum.Done != 1 || cloud.reinstalls["i-000"] != 1 {
				t.Fatalf("%+v, %d reinstalls, i-000 %s; want converged, reinstalled once", sum, cloud.reinstalls["i-000"], actionOf(changes, "i-000").Action)
			}
			if e := j.Entry("fake", "i-000"); e.DoneToken != "t1" || e.InDoubt != nil || e.Pending != nil {
				t.Fatalf("journal %+v, want t1 done, nothing open", e)
			}
			enc := EncodeToken("t1")
			if mk := cloud.marks["i-000"]; mk[MarkIntent] != enc || mk[MarkReinstall] != enc {
				t.Fatalf("markers %v, want intent and done both %s", mk, enc)
			}
			// A run from another state directory reads the markers only: done.
			if _, changes := flow(t, cloud, p, openJournal(t, t.TempDir())); actionOf(changes, "i-000").Action != plan.ActionOK || cloud.reinstalls["i-000"] != 1 {
				t.Fatalf("a new state directory: i-000 %s (%s), %d reinstalls; want ok, once", actionOf(changes, "i-000").Action, actionOf(changes, "i-000").Reason, cloud.reinstalls["i-000"])
			}
		})
	}
}

// An intent marker that cannot be confirmed before the submission means
// nothing is submitted: the instance fails with a clear error, not "in
// doubt"; reimage's stop is undone; the intent is closed in the journal and
// on the instance. The next run carries the token out once.
func TestIntentMarkerUnconfirmedSubmitsNothing(t *testing.T) {
	tests := []struct {
		name   string
		faults markFaults
		// unreadable: the markers cannot be read once the intent's write took effect.
		unreadable bool
	}{
		{name: "every write lost before the cloud", faults: markFaults{dropped: map[string]int{MarkIntent: 99}}},
		{name: "every answer lost and the markers unreadable", faults: markFaults{lost: map[string]int{MarkIntent: 99}}, unreadable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := newMarkerCloud(1, true)
			cloud.markFaults = tt.faults
			if tt.unreadable {
				cloud.afterMark = func(key, value string) { cloud.markFaults.readsDown = true }
			}
			p := reinstallPlan(cloud)
			j := openJournal(t, t.TempDir())
			sum, _ := flow(t, cloud, p, j)
			if sum.Failed != 1 || sum.InDoubt != 0 || cloud.reinstalls["i-000"] != 0 {
				t.Fatalf("%+v, %d reinstalls; want failed, not in doubt, nothing submitted", sum, cloud.reinstalls["i-000"])
			}
			e := j.Entry("fake", "i-000")
			// A failure keeps was_running as an open stop, for a later run to start it.
			if e.InDoubt != nil || e.Pending != nil && e.Pending.Reason != ReasonStopped {
				t.Fatalf("journal %+v, want the intent closed as failed, not in doubt", e)
			}
			if st := cloud.inst["i-000"].State; st != providers.StateRunning {
				t.Fatalf("i-000 %v, want running again", st)
			}
			if got := cloud.marks["i-000"][MarkIntent]; got == EncodeToken("t1") {
				t.Fatalf("intent marker left open (%s): other runs would block it", got)
			}
			cloud.markFaults, cloud.afterMark = markFaults{}, nil
			sum, changes := flow(t, cloud, p, j)
			if c := actionOf(changes, "i-000"); !sum.Converged() || cloud.reinstalls["i-000"] != 1 {
				t.Fatalf("the next run: %+v, i-000 %s (%s), %d reinstalls; want converged, once", sum, c.Action, c.Reason, cloud.reinstalls["i-000"])
			}
		})
	}
}

// The failure of an unconfirmed intent marker says what happened: nothing
// was submitted; it is not an error in doubt.
func TestIntentMarkerUnconfirmedErrorSaysNothingSubmitted(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	cloud.markFaults = markFaults{dropped: map[string]int{MarkIntent: 99}}
	p := reinstallPlan(cloud)
	e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}})
	err := e.markIntent(context.Background(), cloud, &item{c: &plan.Change{Instance: p.Instances[0], Action: plan.ActionReinstall}})
	if err == nil || !strings.Contains(err.Error(), "nothing was submitted") || providers.IsInDoubt(err) || errors.Is(err, ErrInDoubt) {
		t.Fatalf("error %v (in doubt: %v), want one that says nothing was submitted, not in doubt", err, providers.IsInDoubt(err))
	}
	if n := cloud.markFaults.writes[MarkIntent]; n != markAttempts {
		t.Fatalf("%d writes, want %d", n, markAttempts)
	}
}

// The "none" marker that closes the intent of a refused reinstall is
// confirmed like the others: when its first write is lost, it is written
// again, so a run from another state directory does not take the refused
// reinstall for one in flight.
func TestRefusedReinstallNoneMarkerLostIsWrittenAgain(t *testing.T) {
	cloud := newMarkerCloud(1, false)
	p := reinstallPlan(cloud)
	cloud.refuse["i-000"] = &providers.APIError{Code: "ImageIdInvalidParameterValue", Message: "bad image", HTTPStatus: 400}
	cloud.markFaults = markFaults{dropped: map[string]int{MarkIntent: 0}}
	j := openJournal(t, t.TempDir())
	// The intent's write goes through; the next (the close) is lost before the cloud.
	cloud.afterMark = func(key, value string) {
		if key == MarkIntent && value != markNone {
			cloud.markFaults.dropped[MarkIntent] = 1
		}
	}
	if sum, _ := flow(t, cloud, p, j); sum.Failed != 1 || sum.InDoubt != 0 {
		t.Fatalf("%+v, want failed, not in doubt", sum)
	}
	if got := cloud.marks["i-000"][MarkIntent]; got != markNone {
		t.Fatalf("intent marker %q after a refusal whose close was lost once, want %q", got, markNone)
	}
	delete(cloud.refuse, "i-000")
	if sum, _ := flow(t, cloud, p, openJournal(t, t.TempDir())); sum.Done != 1 || cloud.reinstalls["i-000"] != 1 {
		t.Fatalf("%+v reinstalls %v, want the reinstall done once", sum, cloud.reinstalls)
	}
}

// reimage ack records an acknowledged reinstall done on the instance's
// marker; when that write is lost before it reaches the cloud, it is written
// again, and the acknowledgement goes through.
func TestAckDoneMarkerLostIsWrittenAgain(t *testing.T) {
	cloud := newMarkerCloud(1, true)
	p := reinstallPlan(cloud)
	j := openJournal(t, t.TempDir())
	must(t, j.Append(Record{Event: EventInDoubt, Provider: "fake", ID: "i-000", Action: "reinstall", Image: "new", Token: "t1", Reason: "answer lost"}))
	cloud.markFaults = markFaults{dropped: map[string]int{MarkReinstall: 1}}
	if _, err := Ack(context.Background(), j, map[string]providers.Provider{"fake": cloud}, p.Instances, "ops@host"); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if got := cloud.marks["i-000"][MarkReinstall]; got != EncodeToken("t1") {
		t.Fatalf("done marker %q, want %s", got, EncodeToken("t1"))
	}
	if e := j.Entry("fake", "i-000"); e.InDoubt != nil || e.DoneToken != "t1" {
		t.Fatalf("journal %+v, want acknowledged as done", e)
	}
}
