package executor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// throttledCloud is a fakeCloud whose changes wait for release, as calls wait
// on a rate limiter whose budget is spent.
type throttledCloud struct {
	*fakeCloud
	release chan struct{}
}

func (c *throttledCloud) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	select {
	case <-c.release:
	case <-ctx.Done():
		return providers.Submission{}, ctx.Err()
	}
	return c.fakeCloud.Change(ctx, req)
}

// A plan listing one cloud's instances before the other's, in one wave: while
// the first cloud's writes wait on its rate limit, the other cloud's instances
// get the concurrency slots and finish, instead of waiting behind them.
func TestLanesOneCloudsRateLimitNeverIdlesAnother(t *testing.T) {
	slow := &throttledCloud{fakeCloud: newFakeCloud(4, false), release: make(chan struct{})}
	fast := newFakeCloud(4, false)
	p := &plan.Plan{Name: "t", Rollout: plan.Rollout{Concurrency: 4, InstanceTimeout: time.Minute,
		Waves: []plan.Wave{{Size: plan.Size{Percent: 100, IsPercent: true}}}},
		Providers: map[string]*plan.Provider{
			"slow": {Name: "slow", Limits: plan.Limits{RequestsPerSecond: 2}},
			"fast": {Name: "fast", Limits: plan.Limits{RequestsPerSecond: 2}},
		}}
	for _, prov := range []string{"slow", "fast"} { // grouped: every slow one first
		for i := range 4 {
			p.Instances = append(p.Instances, &plan.Instance{ID: fmt.Sprintf("i-%03d", i), Provider: prov, Image: "new", Running: plan.RunningStop})
		}
	}
	provs := map[string]providers.Provider{"slow": slow, "fast": fast}

	var mu sync.Mutex
	var fastStarts []string
	fastDone := 0
	allFastDone := make(chan struct{})
	inFlight, maxInFlight := 0, 0
	obs := ObserverFunc(func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Type {
		case EventInstanceStart:
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			if ev.Change.Instance.Provider == "fast" {
				fastStarts = append(fastStarts, ev.Change.Instance.ID)
			}
		case EventInstanceDone, EventInstanceFail:
			inFlight--
			if ev.Change.Instance.Provider == "fast" {
				if fastDone++; fastDone == 4 {
					close(allFastDone)
				}
			}
		}
	})
	e := New(Options{Plan: p, Providers: provs, PollInterval: time.Millisecond, Observer: obs})
	ctx := t.Context()
	obsv, err := Lookup(ctx, p, provs, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := plan.Diff(p, obsv, nil)
	type result struct {
		sum Summary
		err error
	}
	res := make(chan result, 1)
	go func() {
		sum, err := e.Apply(ctx, changes)
		res <- result{sum, err}
	}()
	select {
	case <-allFastDone:
	case <-time.After(20 * time.Second):
		close(slow.release)
		t.Fatal("the fast cloud's instances waited behind the throttled cloud's: its slots were all taken")
	}
	close(slow.release)
	r := <-res
	if r.err != nil || !r.sum.Converged() || r.sum.Done != 8 {
		t.Fatalf("summary %+v, err %v; want 8 done", r.sum, r.err)
	}
	if maxInFlight > 4 {
		t.Errorf("%d instances in flight, concurrency is 4", maxInFlight)
	}
	if fmt.Sprint(fastStarts) != "[i-000 i-001 i-002 i-003]" {
		t.Errorf("fast cloud's instances started in order %v, want the plan's", fastStarts)
	}
}

// The lane with the most instances left goes first, and a saturated lane
// gives its turn to the next.
func TestLanesPick(t *testing.T) {
	st := newLaneState()
	mk := func(prov string, n int) []*item {
		var out []*item
		for i := range n {
			out = append(out, &item{c: &plan.Change{Instance: &plan.Instance{ID: fmt.Sprint(i), Provider: prov}}})
		}
		return out
	}
	wave := append(mk("kec", 2), mk("ecs", 3)...)
	p := &plan.Plan{Providers: map[string]*plan.Provider{"kec": {Limits: plan.Limits{RequestsPerSecond: 4}}, "ecs": {Limits: plan.Limits{RequestsPerSecond: 4}}}}
	l := newLanes(wave, p, 100, st)
	if got := l.pick(); got != "ecs" {
		t.Fatalf("first pick %q, want ecs (3 left against 2)", got)
	}
	// ecs has a backlog of 2 writes: at 4 requests/s that is half a second's
	// worth, its limit.
	st.dispatched(wave[2])
	st.dispatched(wave[3])
	if got := l.pick(); got != "kec" {
		t.Errorf("pick with ecs saturated %q, want kec", got)
	}
	st.dispatched(wave[0])
	st.dispatched(wave[1])
	if got := l.pick(); got != "" {
		t.Errorf("pick with both saturated %q, want none", got)
	}
	st.step(wave[2], StepWaitDone)
	if got := l.pick(); got != "ecs" {
		t.Errorf("pick after an ecs write completed %q, want ecs", got)
	}
	select {
	case <-st.kick:
	default:
		t.Error("a completed write does not wake a waiting slot")
	}
}

// TestLanesLastRoundLongestFirst: once what is left of a wave takes about one
// round of the concurrency, the lane whose instances take longest (their mean
// in the run) goes first, so that the wave's last instances to start are the
// short ones; before that, and until every lane's mean is known, the lane
// with the most left.
func TestLanesLastRoundLongestFirst(t *testing.T) {
	mk := func(prov string, n int) []*item {
		var out []*item
		for i := range n {
			out = append(out, &item{c: &plan.Change{Instance: &plan.Instance{ID: fmt.Sprint(i), Provider: prov}}})
		}
		return out
	}
	p := &plan.Plan{Providers: map[string]*plan.Provider{"kec": {Limits: plan.Limits{RequestsPerSecond: 50}}, "ecs": {Limits: plan.Limits{RequestsPerSecond: 50}}}}
	wave := append(mk("kec", 3), mk("ecs", 1)...)
	st := newLaneState()
	if got := newLanes(wave, p, 4, st).pick(); got != "kec" {
		t.Errorf("no mean known yet: pick %q, want kec (3 left against 1)", got)
	}
	st.finished(mk("kec", 1)[0], 4*time.Second)
	st.finished(mk("ecs", 1)[0], 5*time.Second)
	// 3×4s + 1×5s = 17s of work: more than a round at concurrency 2 (2×5s).
	if got := newLanes(wave, p, 2, st).pick(); got != "kec" {
		t.Errorf("more than a round left: pick %q, want kec (3 left against 1)", got)
	}
	// At concurrency 4 (4×5s = 20s) it is the last round: ECS's 5s first.
	if got := newLanes(wave, p, 4, st).pick(); got != "ecs" {
		t.Errorf("last round: pick %q, want ecs (5s against 4s)", got)
	}
}
