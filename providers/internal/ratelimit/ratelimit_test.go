package ratelimit

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// TestLimiterWritesFirst: a read that arrives while writes wait for tokens
// gets its token after them, also after a write that arrives later, as long
// as writes keep waiting; a re-read marked WithFirst goes as a write does.
func TestLimiterWritesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := NewLimiter(10, 1) // a token every 100ms
		if _, err := l.Wait(ctx, true); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var mu sync.Mutex
		got := map[string]time.Duration{}
		var wg sync.WaitGroup
		wait := func(name string, ctx context.Context, write bool) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.Wait(ctx, write); err != nil {
					t.Error(err)
				}
				mu.Lock()
				got[name] = time.Since(start)
				mu.Unlock()
			}()
			synctest.Wait() // each waits in arrival order
		}
		wait("write 1", ctx, true)
		wait("poll", ctx, false)
		wait("write 2", ctx, true)
		wait("recheck", providers.WithFirst(ctx), false)
		wg.Wait()
		want := map[string]time.Duration{"write 1": 100 * time.Millisecond, "write 2": 200 * time.Millisecond,
			"recheck": 300 * time.Millisecond, "poll": 400 * time.Millisecond}
		for name, d := range want {
			if got[name] != d {
				t.Errorf("%s got its token after %v, want %v (all: %v)", name, got[name], d, got)
			}
		}
	})
}

// TestLimiterReadsNotStarved: writes that keep waiting hold a read back for
// at most maxReadDefer.
func TestLimiterReadsNotStarved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		l := NewLimiter(10, 1)
		var wg sync.WaitGroup
		for range 4 { // writers with 4 s of writes between them, always one waiting
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					_, _ = l.Wait(ctx, true)
				}
			}()
		}
		synctest.Wait()
		start := time.Now()
		if _, err := l.Wait(ctx, false); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > maxReadDefer+500*time.Millisecond {
			t.Errorf("read waited %v behind writes that never stop, want at most about %v", d, maxReadDefer)
		}
		cancel()
		wg.Wait()
	})
}

func TestLimiterAdapts(t *testing.T) {
	l := NewLimiter(10, 10)
	l.Throttled()
	if got := l.Limit(); got != 5 {
		t.Errorf("after throttling: %v/s, want 5", got)
	}
	l.Throttled() // within a second of the last cut: ignored
	if got := l.Limit(); got != 5 {
		t.Errorf("a second cut within a second: %v/s, want 5", got)
	}
	for range 100 {
		l.Succeeded()
	}
	if got := l.Limit(); got != 10 {
		t.Errorf("after successes: %v/s, want back at 10", got)
	}
}

// TestLimiterReadCallsLeaveTokensToWaitingWrites: the read calls the
// limiter allows now are the whole tokens in its bucket, and none while a
// write (or a re-read marked WithFirst) waits for one.
func TestLimiterReadCallsLeaveTokensToWaitingWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := NewLimiter(10, 3) // a token every 100ms, three in the bucket
		if got := l.ReadCalls(); got != 3 {
			t.Fatalf("full bucket: %d read calls, want 3", got)
		}
		for range 3 {
			if _, err := l.Wait(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
		if got := l.ReadCalls(); got != 0 {
			t.Fatalf("empty bucket: %d read calls, want 0", got)
		}
		time.Sleep(250 * time.Millisecond)
		if got := l.ReadCalls(); got != 2 {
			t.Fatalf("250ms later: %d read calls, want 2", got)
		}
		// A write waits behind the two tokens' worth of reservations: no read.
		for i, first := range []context.Context{ctx, providers.WithFirst(ctx)} {
			go func() {
				for range 3 {
					_, _ = l.Wait(first, i == 0) // a write, then re-reads
				}
			}()
			synctest.Wait()
			if got := l.ReadCalls(); got != 0 {
				t.Errorf("while a write waits: %d read calls, want 0", got)
			}
			time.Sleep(time.Second) // its tokens come; the bucket fills again
			synctest.Wait()
		}
		if got := NewLimiter(0, 0).ReadCalls(); got < 1<<30 {
			t.Errorf("no limit: %d read calls, want no bound", got)
		}
	})
}
