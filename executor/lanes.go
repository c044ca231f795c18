package executor

import (
	"context"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/plan"
)

// writeBacklog is how much queued write work (at the provider's rate) a lane
// may have before it takes no more slots: enough that the provider's rate
// budget never idles between one write and the next, little enough that
// instances queued behind its rate limiter do not hold the concurrency slots
// another cloud could use.
const writeBacklog = 500 * time.Millisecond

// Per-provider lanes (issue 16). A wave's instances are started from one queue
// per provider, each in plan order, instead of in the plan's order across
// providers: a plan that lists every instance of one cloud before every one of
// another would otherwise fill the concurrency with instances waiting on the
// first cloud's rate limit while the second's budget idles. Each free slot goes to the lane with the most
// instances left, unless that lane's provider already has a backlog of writes
// (instances about to write or waiting on its limiter) of writeBacklog or
// more; when every lane has one, the slot waits until a write completes.
// Waves, their order and sizes, and the concurrency limit are unchanged.
//
// The wave's last round goes longest first: once what is left of the wave
// would take about one round of the concurrency (its instances times the mean
// time an instance of their provider has taken in the run, against
// concurrency times the longest such mean), a free slot goes to the
// unsaturated lane whose instances take longest. A wave lasts until its last
// instance ends; started last, the short ones end first, where a long one
// started last would hold the wave while the other slots idle.
type lanes struct {
	order []string // providers, in order of first appearance in the wave
	// mu guards queue: the read-ahead (ahead.go) looks at its heads.
	mu     sync.Mutex
	queue  map[string][]*item // per provider, what is left to start, in plan order
	limit  map[string]int     // per provider, the write backlog that saturates it
	conc   int                // the rollout's concurrency
	state  *laneState
	waitCh <-chan struct{}
}

// laneState counts, per provider, the instances in flight that are writing or
// about to (dispatched, not yet past their first step). It is shared by the
// waves of a run.
type laneState struct {
	mu      sync.Mutex
	writing map[string]int
	stepOf  map[*item]bool // whether the item counts as writing
	kick    chan struct{}  // a write completed: a waiting slot may go
	// took sums, per provider, the times of the instances that ended in the
	// run, and ended counts them: their mean is what one takes.
	took  map[string]time.Duration
	ended map[string]int
}

func newLaneState() *laneState {
	return &laneState{writing: map[string]int{}, stepOf: map[*item]bool{}, kick: make(chan struct{}, 1),
		took: map[string]time.Duration{}, ended: map[string]int{}}
}

// writeSteps are the steps that make a write call.
var writeSteps = map[string]bool{StepStop: true, StepSubmit: true, StepStart: true}

// dispatched counts an instance about to start as writing: its first call is a write.
func (s *laneState) dispatched(it *item) {
	s.mu.Lock()
	s.stepOf[it] = true
	s.writing[it.c.Instance.Provider]++
	s.mu.Unlock()
}

// step records an instance's new step.
func (s *laneState) step(it *item, step string) {
	s.set(it, writeSteps[step], true)
}

// finished removes an instance that ended after took.
func (s *laneState) finished(it *item, took time.Duration) {
	s.mu.Lock()
	s.took[it.c.Instance.Provider] += took
	s.ended[it.c.Instance.Provider]++
	s.mu.Unlock()
	s.set(it, false, false)
}

// mean is the mean time an instance of provider has taken in the run, 0 when
// none has ended yet.
func (s *laneState) mean(provider string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended[provider] == 0 {
		return 0
	}
	return s.took[provider] / time.Duration(s.ended[provider])
}

func (s *laneState) set(it *item, writing, keep bool) {
	s.mu.Lock()
	was, ok := s.stepOf[it]
	p := it.c.Instance.Provider
	if ok && was {
		s.writing[p]--
	}
	if keep {
		s.stepOf[it] = writing
		if writing {
			s.writing[p]++
		}
	} else {
		delete(s.stepOf, it)
	}
	s.mu.Unlock()
	if ok && was && !writing {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *laneState) backlog(provider string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writing[provider]
}

func newLanes(wave []*item, p *plan.Plan, conc int, state *laneState) *lanes {
	l := &lanes{queue: map[string][]*item{}, limit: map[string]int{}, conc: conc, state: state, waitCh: state.kick}
	for _, it := range wave {
		name := it.c.Instance.Provider
		if _, ok := l.queue[name]; !ok {
			l.order = append(l.order, name)
			rate := float64(plan.DefaultRequestsPerSecond)
			if pp := p.Providers[name]; pp != nil && pp.Limits.RequestsPerSecond > 0 {
				rate = pp.Limits.RequestsPerSecond
			}
			l.limit[name] = max(int(rate*writeBacklog.Seconds()), 1)
		}
		l.queue[name] = append(l.queue[name], it)
	}
	return l
}

// empty reports whether every instance of the wave has been handed out.
func (l *lanes) empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range l.queue {
		if len(q) > 0 {
			return false
		}
	}
	return true
}

// pick returns the lane to start from: the unsaturated one with the most
// instances left (the first in plan order on a tie), in the wave's last round
// the one whose instances take longest, or "" when every lane with instances
// left is saturated.
func (l *lanes) pick() string {
	lastRound := l.lastRound()
	best := ""
	var bestMean time.Duration
	for _, name := range l.order {
		n := len(l.queue[name])
		if n == 0 || l.state.backlog(name) >= l.limit[name] {
			continue
		}
		mean := l.state.mean(name)
		switch {
		case best == "":
		case lastRound && mean != bestMean:
			if mean < bestMean {
				continue
			}
		case n <= len(l.queue[best]):
			continue
		}
		best, bestMean = name, mean
	}
	return best
}

// lastRound reports whether what is left of the wave takes about one round
// of the concurrency, once every lane's mean is known.
func (l *lanes) lastRound() bool {
	var work, longest time.Duration
	for _, name := range l.order {
		n := len(l.queue[name])
		if n == 0 {
			continue
		}
		mean := l.state.mean(name)
		if mean == 0 {
			return false
		}
		work += time.Duration(n) * mean
		longest = max(longest, mean)
	}
	return work <= time.Duration(l.conc)*longest
}

// next hands out the next instance to start, waiting while every lane is
// saturated. It returns nil when ctx is done or stop is closed first.
func (l *lanes) next(ctx context.Context, stop <-chan struct{}) *item {
	for {
		l.mu.Lock()
		if name := l.pick(); name != "" {
			it := l.queue[name][0]
			l.queue[name] = l.queue[name][1:]
			l.mu.Unlock()
			return it
		}
		l.mu.Unlock()
		// A saturated lane has instances writing, which end or move on, so
		// the wait ends; the timer is a safety net for a step never reported.
		t := time.NewTimer(writeBacklog)
		select {
		case <-l.waitCh:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-stop:
			t.Stop()
			return nil
		}
		t.Stop()
	}
}

// heads returns the first n instances left in provider's lane.
func (l *lanes) heads(provider string, n int) []*item {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue[provider]
	return append([]*item(nil), q[:min(n, len(q))]...)
}
