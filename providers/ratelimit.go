package providers

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the one token bucket of a provider: every attempt of every call
// waits on it. It adapts to the cloud: when the cloud throttles, the rate is
// cut (down to a tenth of the configured rate), and it climbs back to the
// configured rate as calls succeed. Without this, a plan that sets a rate above
// the account's real quota would spend half its calls on 429 answers.
type Limiter struct {
	lim *rate.Limiter

	mu         sync.Mutex
	configured rate.Limit
	floor      rate.Limit
	lastCut    time.Time
}

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

// Wait blocks until a request may be sent and returns how long it waited.
func (l *Limiter) Wait(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := l.lim.Wait(ctx)
	return time.Since(start), err
}

// Limit is the current rate in requests per second.
func (l *Limiter) Limit() float64 { return float64(l.lim.Limit()) }

// throttled halves the rate, at most once per second: the many requests in
// flight when the cloud starts refusing all report it at about the same time.
func (l *Limiter) throttled() {
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

// succeeded raises the rate by 2 % of the configured rate, up to it.
func (l *Limiter) succeeded() {
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
