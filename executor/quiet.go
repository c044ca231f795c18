package executor

import (
	"context"
	"sync"
	"time"
)

// maxQuiet caps a quiet period, so that a failure early in a long step (a
// rebuild of many minutes) is still seen within a minute.
const maxQuiet = time.Minute

// quietPeriods learns, for each kind of wait (provider, step, action), the
// shortest time it has taken so far in the run; a later instance is polled
// only once nine tenths of that has passed, since none finished sooner. Polls
// are coalesced into batch calls, but each batch is still a call: polling only
// the instances that may be done saves the calls of ticks when none may be
// (a wave of rebuilds that take minutes), and of the second batch when more
// than a batch's worth are in flight. The first instances of each kind (the
// canary) are polled from the start.
type quietPeriods struct {
	mu  sync.Mutex
	min map[string]time.Duration
}

// wait sleeps until the quiet period of kind, counted from since, is over.
func (q *quietPeriods) wait(ctx context.Context, kind string, since time.Time) error {
	q.mu.Lock()
	d := min(q.min[kind]*9/10, maxQuiet)
	q.mu.Unlock()
	if d -= time.Since(since); d > 0 && !sleep(ctx, d, nil) {
		return ctx.Err()
	}
	return nil
}

// observe records that a wait of kind ended successfully after d.
func (q *quietPeriods) observe(kind string, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.min == nil {
		q.min = map[string]time.Duration{}
	}
	if old, ok := q.min[kind]; !ok || d < old {
		q.min[kind] = d
	}
}
