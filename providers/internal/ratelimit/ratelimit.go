// Package ratelimit is the one adaptive token bucket of a provider, which
// every attempt of every API call of its driver waits on.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/reimage-dev/reimage/providers"
)

// Limiter is the one token bucket of a provider: every attempt of every call
// waits on it. It adapts to the cloud: when the cloud throttles, the rate is
// cut (down to a tenth of the configured rate), and it climbs back to the
// configured rate as calls succeed. Without this, a plan that sets a rate above
// the account's real quota would spend half its calls on 429 answers.
//
// Writes go first (issue 16): a read yields to the writes waiting for a token,
// for at most maxReadDefer, so that the polls of many instances in flight do
// not take the tokens the changes wait for when the rate limit is what bounds
// the rollout; reads still flow, in the gaps and at least once a second.
type Limiter struct {
	lim *rate.Limiter

	mu         sync.Mutex
	configured rate.Limit
	floor      rate.Limit
	lastCut    time.Time
	// writes counts the writes waiting for a token; drained is closed when
	// the count falls back to zero.
	writes  int
	drained chan struct{}
}

// maxReadDefer bounds how long a read yields to waiting writes.
const maxReadDefer = time.Second

// NewLimiter returns a limiter of rps requests per second with the given burst
// (at least 1). rps <= 0 means no limit.
func NewLimiter(rps float64, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	l := rate.Limit(rps)
	if rps <= 0 {
		l = rate.Inf
	}
	return &Limiter{lim: rate.NewLimiter(l, burst), configured: l, floor: l / 10}
}

// Wait blocks until a request may be sent and returns how long it waited. A
// read (write false, ctx not marked providers.WithFirst) yields to the writes waiting
// for a token, for at most maxReadDefer.
func (l *Limiter) Wait(ctx context.Context, write bool) (time.Duration, error) {
	start := time.Now()
	first := write || providers.IsFirst(ctx)
	if l.configured == rate.Inf {
		return 0, ctx.Err()
	}
	l.mu.Lock()
	if first {
		if l.writes == 0 {
			l.drained = make(chan struct{})
		}
		l.writes++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			if l.writes--; l.writes == 0 {
				close(l.drained)
			}
			l.mu.Unlock()
		}()
	} else {
		var drained chan struct{}
		if l.writes > 0 {
			drained = l.drained
		}
		l.mu.Unlock()
		if drained != nil {
			t := time.NewTimer(maxReadDefer)
			select {
			case <-drained:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	err := l.lim.Wait(ctx)
	return time.Since(start), err
}

// ReadCalls is how many read calls may be sent now without taking a token a
// waiting write needs (issue 16: poll batches sized to what the rate budget
// leaves): none while a write (or a WithFirst read) waits, else the whole
// tokens in the bucket. A coalescer of polls sends that many batch calls and
// keeps the rest of the ids gathering (coalesce.CoalescerOptions.Budget).
func (l *Limiter) ReadCalls() int {
	if l.configured == rate.Inf {
		return math.MaxInt
	}
	l.mu.Lock()
	writes := l.writes
	l.mu.Unlock()
	if writes > 0 {
		return 0
	}
	return max(int(math.Floor(l.lim.Tokens())), 0)
}

// Limit is the current rate in requests per second.
func (l *Limiter) Limit() float64 { return float64(l.lim.Limit()) }

// Throttled halves the rate, at most once per second: the many requests in
// flight when the cloud starts refusing all report it at about the same time.
func (l *Limiter) Throttled() {
	if l.configured == rate.Inf {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.lastCut) < time.Second {
		return
	}
	l.lastCut = now
	next := l.lim.Limit() / 2
	if next < l.floor {
		next = l.floor
	}
	l.lim.SetLimit(next)
}

// Succeeded raises the rate by 2 % of the configured rate, up to it.
func (l *Limiter) Succeeded() {
	if l.configured == rate.Inf {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.lim.Limit()
	if cur >= l.configured {
		return
	}
	next := cur + l.configured/50
	if next > l.configured {
		next = l.configured
	}
	l.lim.SetLimit(next)
}
