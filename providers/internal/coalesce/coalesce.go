// Package coalesce merges concurrent single-key calls of a driver (stop
// this instance, what is the state of that one) into the cloud's batch calls.
package coalesce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// Result is one key's answer in a batch call.
type Result[V any] struct {
	Value V
	Err   error
}

// BatchFunc makes one batch call for keys (at most the coalescer's size, no
// duplicates). It returns each key's result; an error fails every key, and a
// key missing from the map fails with an error saying so.
type BatchFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]Result[V], error)

// Coalescer merges concurrent single-key calls (stop this instance, what is
// the state of that one) into batch calls: the first call opens a batch and a
// gathering window; calls arriving within the window join it; the batch is
// sent when the window closes or as soon as it is full. Callers asking for the
// same key in the same batch share one entry.
//
// Batch calls run in goroutines bound to the coalescer's context, which Close
// cancels; Close waits for them.
type Coalescer[K comparable, V any] struct {
	name   string
	size   int
	window time.Duration
	write  bool
	fn     BatchFunc[K, V]
	// budget and maxDefer: CoalescerOptions' Budget and MaxDefer.
	budget   func() int
	maxDefer time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending *batch[K, V]
	closed  bool
}

type batch[K comparable, V any] struct {
	keys    []K
	waiters map[K][]chan Result[V]
	timer   *time.Timer
	sent    bool
	// first: a call in the batch goes first in the rate limiter
	// (providers.WithFirst); firstKeys are the keys of such calls, sent
	// before the others when the budget defers some.
	first     bool
	firstKeys map[K]bool
	// opened is when the batch began gathering: its oldest key waits since.
	opened time.Time
}

// CoalescerOptions configure a Coalescer.
type CoalescerOptions struct {
	// Name names the batch operation in errors ("StopInstances").
	Name string
	// Size is the most keys one batch call takes.
	Size int
	// Window is how long a batch gathers calls before it is sent.
	Window time.Duration
	// Write marks batch calls that change something: a caller that gives up
	// after its batch was sent gets a *providers.InDoubtError, not a plain context error.
	Write bool
	// Budget, for reads (ignored with Write: a write is never deferred), is
	// how many batch calls may be sent now without taking a token a waiting
	// write needs (ratelimit.Limiter.ReadCalls). When a gathered batch needs
	// more calls than that, the calls the budget allows go, with the keys
	// of WithFirst calls first, then the oldest; the other keys keep
	// gathering and join the next ones in fewer calls. A WithFirst key (the
	// re-read a change waits for, which the limiter lets go as a write) is
	// never deferred, and a key waits at most MaxDefer for a budget: then one
	// call goes all the same.
	Budget func() int
	// MaxDefer bounds how long Budget defers a key; DefaultMaxDefer when zero.
	MaxDefer time.Duration
}

// DefaultMaxDefer is the longest a read waits for a budget: the rate
// limiter's own bound on a read yielding to writes.
const DefaultMaxDefer = time.Second

// NewCoalescer returns a coalescer whose batch calls run under ctx (cancelled
// by Close as well).
func NewCoalescer[K comparable, V any](ctx context.Context, opts CoalescerOptions, fn BatchFunc[K, V]) *Coalescer[K, V] {
	if opts.Size < 1 {
		opts.Size = 1
	}
	if opts.Window <= 0 {
		opts.Window = providers.DefaultBatchWindow
	}
	if opts.MaxDefer <= 0 {
		opts.MaxDefer = DefaultMaxDefer
	}
	if opts.Write {
		opts.Budget = nil
	}
	cctx, cancel := context.WithCancel(ctx)
	return &Coalescer[K, V]{name: opts.Name, size: opts.Size, window: opts.Window, write: opts.Write, fn: fn,
		budget: opts.Budget, maxDefer: opts.MaxDefer, ctx: cctx, cancel: cancel}
}

// ErrClosed is returned by calls on a closed coalescer or client.
var ErrClosed = errors.New("provider client is closed")

// Do adds key to the gathering batch and waits for its result.
func (c *Coalescer[K, V]) Do(ctx context.Context, key K) (V, error) {
	var zero V
	ch := make(chan Result[V], 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrClosed
	}
	b := c.pending
	if b == nil {
		b = &batch[K, V]{waiters: map[K][]chan Result[V]{}, firstKeys: map[K]bool{}, opened: time.Now()}
		c.pending = b
		b.timer = time.AfterFunc(c.window, func() { c.flush(b) })
	}
	if _, ok := b.waiters[key]; !ok {
		b.keys = append(b.keys, key)
	}
	b.waiters[key] = append(b.waiters[key], ch)
	if providers.IsFirst(ctx) {
		b.first = true
		b.firstKeys[key] = true
	}
	if len(b.keys) >= c.size {
		b.timer.Stop()
		c.sendLocked(b)
	}
	c.mu.Unlock()

	select {
	case r := <-ch:
		return r.Value, r.Err
	case <-ctx.Done():
		c.mu.Lock()
		// Not sent yet (b not sent, nor the key ahead of the rest of b in a
		// call the budget allowed): leave the batch so that nothing is
		// asked on our behalf.
		sent := b.sent || !b.remove(key, ch)
		c.mu.Unlock()
		if sent && c.write {
			return zero, &providers.InDoubtError{Operation: c.name, Resource: fmt.Sprint(key), Cause: ctx.Err()}
		}
		return zero, ctx.Err()
	}
}

// remove takes ch, a waiter of key, out of b; it reports whether b held it.
func (b *batch[K, V]) remove(key K, ch chan Result[V]) bool {
	ws := b.waiters[key]
	i := slices.Index(ws, ch)
	if i < 0 {
		return false
	}
	ws = slices.Delete(ws, i, i+1)
	if len(ws) > 0 {
		b.waiters[key] = ws
		return true
	}
	delete(b.waiters, key)
	delete(b.firstKeys, key)
	if i := slices.Index(b.keys, key); i >= 0 {
		b.keys = slices.Delete(b.keys, i, i+1)
	}
	return true
}

// flush sends b when its window closes, unless it was sent already (full).
func (c *Coalescer[K, V]) flush(b *batch[K, V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !b.sent {
		c.sendLocked(b)
	}
}

func (c *Coalescer[K, V]) sendLocked(b *batch[K, V]) {
	if c.budget != nil && !c.closed && len(b.keys) > 0 {
		c.sendBudgetedLocked(b)
		return
	}
	b.sent = true
	if c.pending == b {
		c.pending = nil
	}
	if len(b.keys) == 0 {
		return
	}
	if c.closed {
		b.deliver(nil, ErrClosed)
		return
	}
	c.callLocked(b)
}

// callLocked makes b's batch call in a goroutine and delivers its results.
func (c *Coalescer[K, V]) callLocked(b *batch[K, V]) {
	keys := append([]K(nil), b.keys...)
	ctx := c.ctx
	if b.first {
		ctx = providers.WithFirst(ctx)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		results, err := c.fn(ctx, keys)
		c.mu.Lock()
		defer c.mu.Unlock()
		b.deliver(results, err)
	}()
}

// sendBudgetedLocked sends as many calls of b's keys as the budget allows
// (at least one when b holds a WithFirst key or its oldest key has waited
// maxDefer), WithFirst keys first, then in the order they came; the keys
// left keep gathering in b, which is looked at again after a window.
func (c *Coalescer[K, V]) sendBudgetedLocked(b *batch[K, V]) {
	calls := c.budget()
	if calls <= 0 && (len(b.firstKeys) > 0 || time.Since(b.opened) >= c.maxDefer) {
		calls = 1
	}
	if calls > 0 {
		order := make([]K, 0, len(b.keys))
		for _, k := range b.keys {
			if b.firstKeys[k] {
				order = append(order, k)
			}
		}
		for _, k := range b.keys {
			if !b.firstKeys[k] {
				order = append(order, k)
			}
		}
		for ; calls > 0 && len(order) > 0; calls-- {
			n := min(c.size, len(order))
			part := &batch[K, V]{keys: order[:n:n], waiters: map[K][]chan Result[V]{}, sent: true}
			for _, k := range part.keys {
				part.waiters[k] = b.waiters[k]
				part.first = part.first || b.firstKeys[k]
				delete(b.waiters, k)
				delete(b.firstKeys, k)
			}
			order = order[n:]
			c.callLocked(part)
		}
		b.keys = order
		b.first = len(b.firstKeys) > 0
	}
	if len(b.keys) == 0 {
		b.sent = true
		if c.pending == b {
			c.pending = nil
		}
		return
	}
	// Deferred: the keys keep gathering (new ones join them); b is looked at
	// again after a window, or at once when it fills up.
	b.timer.Stop()
	b.timer = time.AfterFunc(c.window, func() { c.flush(b) })
}

// deliver answers every waiter; the channels are buffered, so it never blocks.
func (b *batch[K, V]) deliver(results map[K]Result[V], err error) {
	for key, ws := range b.waiters {
		r, ok := results[key]
		switch {
		case err != nil:
			r = Result[V]{Err: err}
		case !ok:
			r = Result[V]{Err: fmt.Errorf("%v: no answer for it in the batch call", key)}
		}
		for _, w := range ws {
			w <- r
		}
	}
	b.waiters = nil
}

// Close cancels batch calls in flight, fails calls still gathering, and waits
// for the batch goroutines to end.
func (c *Coalescer[K, V]) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if b := c.pending; b != nil {
		b.timer.Stop()
		b.sent = true
		c.pending = nil
		b.deliver(nil, ErrClosed)
	}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
