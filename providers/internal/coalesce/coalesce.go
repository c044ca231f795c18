// Package coalesce merges concurrent single-key calls of a driver (stop
// this instance, what is the state of that one) into the cloud's batch calls.
package coalesce

import (
	"context"
	"errors"
	"fmt"
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
	// first: a call in the batch goes first in the rate limiter (providers.WithFirst).
	first bool
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
}

// NewCoalescer returns a coalescer whose batch calls run under ctx (cancelled
// by Close as well).
func NewCoalescer[K comparable, V any](ctx context.Context, opts CoalescerOptions, fn BatchFunc[K, V]) *Coalescer[K, V] {
	if opts.Size < 1 {
		opts.Size = 1
	}
	if opts.Window <= 0 {
		opts.Window = providers.DefaultBatchWindow
	}
	cctx, cancel := context.WithCancel(ctx)
	return &Coalescer[K, V]{name: opts.Name, size: opts.Size, window: opts.Window, write: opts.Write, fn: fn, ctx: cctx, cancel: cancel}
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
		b = &batch[K, V]{waiters: map[K][]chan Result[V]{}}
		c.pending = b
		b.timer = time.AfterFunc(c.window, func() { c.flush(b) })
	}
	if _, ok := b.waiters[key]; !ok {
		b.keys = append(b.keys, key)
	}
	b.waiters[key] = append(b.waiters[key], ch)
	b.first = b.first || providers.IsFirst(ctx)
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
		sent := b.sent
		if !sent {
			// Not sent yet: leave the batch so that nothing is asked on our behalf.
			b.remove(key, ch)
		}
		c.mu.Unlock()
		if sent && c.write {
			return zero, &providers.InDoubtError{Operation: c.name, Resource: fmt.Sprint(key), Cause: ctx.Err()}
		}
		return zero, ctx.Err()
	}
}

func (b *batch[K, V]) remove(key K, ch chan Result[V]) {
	ws := b.waiters[key]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) > 0 {
		b.waiters[key] = ws
		return
	}
	delete(b.waiters, key)
	for i, k := range b.keys {
		if k == key {
			b.keys = append(b.keys[:i], b.keys[i+1:]...)
			break
		}
	}
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
