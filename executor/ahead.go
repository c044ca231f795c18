package executor

import (
	"context"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// maxRecheckAge is how old the re-read of an instance may be when the
// instance starts (its first journal record and call follow at once). The
// re-check exists for changes made by others since the look-up, perhaps hours
// earlier; a read of at most a second before the start is as good as one made
// after it, and one made with the poll that freed the slot costs no call and
// no wait.
const maxRecheckAge = time.Second

// statusBatch is the most instances one status call of either cloud takes; a
// read-ahead never asks for more at a time, so that it adds at most one call.
const statusBatch = 100

// recheckRead is the re-read of an instance made before it starts.
type recheckRead struct {
	done chan struct{} // closed when inst and err are set
	inst providers.Instance
	err  error
	at   time.Time // when the read was sent
}

// fresh reports whether the read, once done, may serve as the re-check of an
// instance starting at now.
func (r *recheckRead) fresh(now time.Time) bool {
	return r.err == nil && now.Sub(r.at) <= maxRecheckAge
}

// readAhead re-reads the instances next in each lane before they start, in
// the status calls of the poll ticks (issue 16): an instance is re-read just
// before it is touched (issue 11), and a read at the moment it starts would
// wait for the next tick (a whole poll interval, since slots free right after
// a poll) or cost a call of its own. The reads of a tick join the tick's polls
// in one coalesced call; at a wave's start they are made at once, one call per
// provider, so that the wave does not wait for a tick either.
type readAhead struct {
	e     *Executor
	lanes *lanes
	// free is how many concurrency slots are free.
	free func() int
	wg   sync.WaitGroup
}

// start reads the heads of every lane now, then on every poll tick until stop
// is closed or ctx ends. wait waits for it and its reads to end.
func (r *readAhead) start(ctx context.Context, stop <-chan struct{}) {
	r.readHeads(ctx, time.Now(), true)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			// The poll clock's ticks (Executor.tick), and stop ends the wait:
			// a wave's end must not wait for one.
			if !sleep(ctx, r.e.poll-time.Duration(time.Now().UnixNano()%int64(r.e.poll)), stop) {
				return
			}
			r.readHeads(ctx, time.Now(), false)
		}
	}()
}

func (r *readAhead) wait() { r.wg.Wait() }

// readHeads reads the instances next in each lane whose reads would be stale
// before the next tick. Except at a wave's start (all), it reads only when an
// instance may start before the next tick: a slot is free, or an instance in
// flight is being polled and may end.
func (r *readAhead) readHeads(ctx context.Context, now time.Time, all bool) {
	if !all && r.free() == 0 && r.e.polling.Load() == 0 {
		return
	}
	staleBy := now.Add(r.e.poll)
	for _, name := range r.lanes.order {
		prov := r.e.opts.Providers[name]
		// As many as may start within maxRecheckAge: the slots free now and
		// what the provider's rate lets start in that time.
		n := min(statusBatch, r.free()+2*r.lanes.limit[name])
		heads := r.lanes.heads(name, n)
		if !all && !needsRead(heads, staleBy) {
			continue
		}
		for _, it := range heads {
			if old := it.read.Load(); old != nil && !isDone(old) {
				continue // a read is under way
			}
			rd := &recheckRead{done: make(chan struct{}), at: time.Now()}
			it.read.Store(rd)
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer close(rd.done)
				// First in the rate limiter: the change waits for it.
				rd.inst, rd.err = prov.Status(providers.WithFirst(ctx), it.c.Instance.ID)
			}()
		}
	}
}

// needsRead reports whether one of the first heads has no read, or one that
// is no longer fresh at staleBy.
func needsRead(heads []*item, staleBy time.Time) bool {
	for _, it := range heads[:min(len(heads), 8)] {
		rd := it.read.Load()
		if rd == nil || (isDone(rd) && !rd.fresh(staleBy)) {
			return true
		}
	}
	return false
}

func isDone(rd *recheckRead) bool {
	select {
	case <-rd.done:
		return true
	default:
		return false
	}
}

// aheadRead returns the read made ahead of the instance's start, waiting for
// it when it is under way, if it is fresh.
func (e *Executor) aheadRead(ctx context.Context, it *item) (providers.Instance, bool) {
	rd := it.read.Load()
	if rd == nil {
		return providers.Instance{}, false
	}
	select {
	case <-rd.done:
	case <-ctx.Done():
		return providers.Instance{}, false
	}
	if !rd.fresh(time.Now()) {
		return providers.Instance{}, false
	}
	return rd.inst, true
}
