package providers

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
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
		wait("recheck", WithFirst(ctx), false)
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

// TestCoalescedBatchGoesFirstWithAnyFirstCall: a batch call that merges a
// re-read marked WithFirst with plain polls goes first in the limiter; one of
// polls only does not.
func TestCoalescedBatchGoesFirstWithAnyFirstCall(t *testing.T) {
	var mu sync.Mutex
	var firsts []bool
	c := NewCoalescer(context.Background(), CoalescerOptions{Name: "Describe", Size: 3, Window: time.Minute}, // sent when full
		func(ctx context.Context, keys []string) (map[string]Result[int], error) {
			mu.Lock()
			firsts = append(firsts, IsFirst(ctx))
			mu.Unlock()
			out := map[string]Result[int]{}
			for _, k := range keys {
				out[k] = Result[int]{Value: 1}
			}
			return out, nil
		})
	defer c.Close()
	for _, batch := range [][]context.Context{
		{context.Background(), WithFirst(context.Background()), context.Background()},
		{context.Background(), context.Background(), context.Background()},
	} {
		var wg sync.WaitGroup
		for i, ctx := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Do(ctx, string(rune('a'+i))); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if len(firsts) != 2 || !firsts[0] || firsts[1] {
		t.Errorf("batches went first: %v, want [true false]", firsts)
	}
}
