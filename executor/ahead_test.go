package executor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// timedCloud records when each instance was read and changed.
type timedCloud struct {
	*fakeCloud
	mu      sync.Mutex
	reads   map[string][]time.Time
	changed map[string]time.Time
	reads0  int // status reads in all
}

func newTimedCloud(n int) *timedCloud {
	return &timedCloud{fakeCloud: newFakeCloud(n, false), reads: map[string][]time.Time{}, changed: map[string]time.Time{}}
}

func (c *timedCloud) Status(ctx context.Context, id string) (providers.Instance, error) {
	c.mu.Lock()
	c.reads[id] = append(c.reads[id], time.Now())
	c.reads0++
	c.mu.Unlock()
	return c.fakeCloud.Status(ctx, id)
}

func (c *timedCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	c.mu.Lock()
	c.changed[req.InstanceID] = time.Now()
	c.mu.Unlock()
	return c.fakeCloud.Change(ctx, req)
}

// TestRecheckReadAheadIsFreshAndWaitsForNoTick: the re-read of an instance
// before it is touched (issue 11) is made ahead of its start, with the poll
// of the tick that frees its slot or at the wave's start, so that the wave's
// first instances do not wait for a poll tick; a read older than
// maxRecheckAge is never used: every change is preceded by a read of its
// instance at most that long before.
func TestRecheckReadAheadIsFreshAndWaitsForNoTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newTimedCloud(4)
		// Concurrency 2 and a poll every 10 s: the reads made at the
		// wave's start are long stale when the last two instances start.
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 2)
		start := time.Now()
		e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}, PollInterval: 10 * time.Second})
		obs, err := Lookup(context.Background(), p, map[string]providers.Provider{"fake": cloud}, nil)
		if err != nil {
			t.Fatal(err)
		}
		lookupReads := cloud.reads0 // 0: fakeCloud.Lookup reads past timedCloud
		sum, err := e.Apply(context.Background(), plan.Diff(p, obs, nil))
		if err != nil || sum.Done != 4 {
			t.Fatalf("summary %+v, error %v; want 4 done", sum, err)
		}
		cloud.mu.Lock()
		defer cloud.mu.Unlock()
		for _, id := range []string{"i-000", "i-001"} {
			if d := cloud.changed[id].Sub(start); d != 0 {
				t.Errorf("%s changed %v after the wave's start, want at once (no wait for a poll tick)", id, d)
			}
		}
		for id, at := range cloud.changed {
			fresh := false
			for _, r := range cloud.reads[id] {
				if !r.After(at) && at.Sub(r) <= time.Second { // the README's promise
					fresh = true
				}
			}
			if !fresh {
				t.Errorf("%s changed at %v; its reads %v: none at most 1s before", id, at.Sub(start), cloud.reads[id])
			}
		}
		// Every read is a re-check or a poll.
		if n := cloud.reads0 - lookupReads; n > 4*3 {
			t.Errorf("%d status reads for 4 instances, want at most 12", n)
		}
	})
}

// TestRecheckAfterReadAheadSeesLaterChange: an instance changed by someone
// else after the read made at its wave's start, while it waited for a slot,
// is seen so at its start (the re-read then is a new one) and left alone.
func TestRecheckAfterReadAheadSeesLaterChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newTimedCloud(2)
		p := testPlan(cloud.fakeCloud, oneWave, plan.Size{}, 1)
		e := New(Options{Plan: p, Providers: map[string]providers.Provider{"fake": cloud}, PollInterval: 10 * time.Second})
		obs, err := Lookup(context.Background(), p, map[string]providers.Provider{"fake": cloud}, nil)
		if err != nil {
			t.Fatal(err)
		}
		changes := plan.Diff(p, obs, nil)
		// Read ahead at the wave's start: i-001 still on "old"; then someone
		// puts it on the target image.
		go func() {
			time.Sleep(5 * time.Second) // i-000 in flight, i-001 waiting
			_ = cloud.set("i-001", func(in *providers.Instance) { in.Image = "new" })
		}()
		sum, err := e.Apply(context.Background(), changes)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Done != 1 || sum.Superseded != 1 || cloud.changes["i-001"] != 0 {
			t.Fatalf("summary %+v, i-001 changed %d times; want i-000 done, i-001 left alone", sum, cloud.changes["i-001"])
		}
	})
}
