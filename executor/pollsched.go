package executor

import (
	"slices"
	"sync"
	"time"
)

// maxQuiet caps how long a wait goes without a poll, so that a failure
// early in a long step (a rebuild of many minutes) is seen within a minute.
const maxQuiet = time.Minute

// keepWaits is how many of the latest durations of each kind of wait the
// schedule keeps for its median.
const keepWaits = 64

// Wait names a kind of wait for the cloud whose duration the poll schedule
// learns, per provider: the steps the rollout forecast (executor/forecast)
// keeps durations of.
type Wait string

// The waits the poll schedule learns.
const (
	// WaitStop: a stop call until the instance shows stopped.
	WaitStop Wait = "stop"
	// WaitChange: the change of a stopped instance until the cloud reports
	// it done (a reinstall too: the same call's time).
	WaitChange Wait = "change"
	// WaitChangeRunning: the change of a running instance on a cloud whose
	// change call stops and starts it itself.
	WaitChangeRunning Wait = "change_running"
	// WaitStart: a start call until the instance runs.
	WaitStart Wait = "start"
)

// waitKind is one provider's wait; the zero value is a wait not learned
// (settling after a failure).
type waitKind struct {
	provider string
	wait     Wait
}

// pollSchedule decides when a wait polls the cloud (issue 16). Polls are
// coalesced into one batch call per provider and poll tick, yet every id
// polled is an answer the cloud computes, and a tick at which no instance is
// due costs no call at all: a wait polls from when its step may have ended,
// not from its start.
//
//   - First poll: at nine tenths of the shortest time this kind of wait has
//     taken in the run (none ended sooner); before one has ended, at half the
//     expected duration (Options.WaitEstimate: what earlier runs observed, or
//     the cloud's default), and at once without an estimate.
//   - Then intervals halve towards the expected end (the first quartile of
//     the run's latest durations: by then a quarter of the waits have ended;
//     or the estimate), never shorter than the poll interval: a wait far
//     from its expected end is polled rarely, one near it often. (The
//     median instead spares a fifth more polls, but delays the quarter of
//     the instances that end between the two by a gap each: on a rollout
//     bound by its concurrency, each costs its slot that long.)
//   - Once the wait is overdue (past its expected end), on every poll tick:
//     never slower than the configured interval.
//   - No wait goes more than maxQuiet without a poll.
//
// The figures are read anew at each poll, so a wait that began before the
// first of its kind ended (a canary wave) moves to the run's figures.
type pollSchedule struct {
	poll     time.Duration
	estimate func(provider string, w Wait) time.Duration // may be nil

	mu   sync.Mutex
	seen map[waitKind]*waitTimes
}

// waitTimes are the durations one kind of wait has taken in the run.
type waitTimes struct {
	least  time.Duration
	recent []time.Duration // the latest keepWaits, oldest first
}

// observe records that a wait of kind ended successfully after d.
func (s *pollSchedule) observe(kind waitKind, d time.Duration) {
	if kind.wait == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[waitKind]*waitTimes{}
	}
	w := s.seen[kind]
	if w == nil {
		w = &waitTimes{least: d}
		s.seen[kind] = w
	}
	w.least = min(w.least, d)
	if len(w.recent) == keepWaits {
		w.recent = w.recent[1:]
	}
	w.recent = append(w.recent, d)
}

// figures are what the schedule knows of a kind of wait: first, the earliest
// it may end; expected, from when it is polled on every tick (both 0 when
// nothing is known).
func (s *pollSchedule) figures(kind waitKind) (first, expected time.Duration) {
	if kind.wait == "" {
		return 0, 0
	}
	s.mu.Lock()
	w := s.seen[kind]
	if w != nil {
		first = w.least * 9 / 10
		sorted := slices.Clone(w.recent)
		s.mu.Unlock()
		slices.Sort(sorted)
		return first, sorted[len(sorted)/4]
	}
	s.mu.Unlock()
	if s.estimate == nil {
		return 0, 0
	}
	est := s.estimate(kind.provider, kind.wait)
	return est / 2, est
}

// next returns how long after its start (elapsed ago) a wait of kind that
// has not ended polls next, at the latest: the poll is made on the last
// tick before it (ticks are a poll interval apart). polls is how many polls
// the wait has made.
func (s *pollSchedule) next(kind waitKind, elapsed time.Duration, polls int) time.Duration {
	first, expected := s.figures(kind)
	switch {
	case polls == 0 && elapsed < first:
		return min(first, maxQuiet)
	case elapsed >= expected:
		return elapsed // overdue: the next tick
	}
	return elapsed + min(max(s.poll, (expected-elapsed)/2), maxQuiet)
}
