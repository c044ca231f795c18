package coalesce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/providers"
)

// recorder is a BatchFunc that records its batches and answers key*10, or an
// error for keys in fail.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	fail    map[int]bool
	block   chan struct{}
}

func (r *recorder) fn(ctx context.Context, keys []int) (map[int]Result[int], error) {
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), keys...))
	r.mu.Unlock()
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := map[int]Result[int]{}
	for _, k := range keys {
		if r.fail[k] {
			out[k] = Result[int]{Err: fmt.Errorf("key %d refused", k)}
			continue
		}
		out[k] = Result[int]{Value: k * 10}
	}
	return out, nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	sort.Ints(s)
	return s
}

// The coalescer's tests run in a synctest bubble: its windows and the
// callers' timing are on the bubble's clock, so that which calls share a
// batch never depends on how busy the machine is.
func TestCoalescerMergesAndSplits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{fail: map[int]bool{7: true}}
		c := NewCoalescer(context.Background(), CoalescerOptions{Name: "Op", Size: 100, Window: 50 * time.Millisecond}, r.fn)
		defer c.Close()
		const n = 250
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				v, err := c.Do(context.Background(), i)
				if err == nil && v != i*10 {
					err = fmt.Errorf("key %d: got %d", i, v)
				}
				if i == 7 {
					if err == nil {
						err = errors.New("key 7 should fail")
					} else {
						err = nil
					}
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got := r.sizes(); len(got) != 3 || got[2] != 100 || got[0]+got[1]+got[2] != n {
			t.Errorf("batch sizes %v, want 3 batches of at most 100 for %d keys", got, n)
		}
	})
}

func TestCoalescerSharesDuplicateKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		c := NewCoalescer(context.Background(), CoalescerOptions{Size: 10, Window: 30 * time.Millisecond}, r.fn)
		defer c.Close()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if v, err := c.Do(context.Background(), 1); err != nil || v != 10 {
					t.Errorf("Do: %v, %v", v, err)
				}
			})
		}
		wg.Wait()
		if got := r.sizes(); len(got) != 1 || got[0] != 1 {
			t.Errorf("batch sizes %v, want one batch of one key", got)
		}
	})
}

func TestCoalescerCancelBeforeSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		c := NewCoalescer(context.Background(), CoalescerOptions{Size: 10, Window: 100 * time.Millisecond, Write: true}, r.fn)
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := c.Do(ctx, 1)
			done <- err
		}()
		synctest.Wait() // Do waits in the window, 100ms before it sends
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || providers.IsInDoubt(err) {
			t.Fatalf("Do: %v, want canceled, not in doubt (nothing was sent)", err)
		}
		if v, err := c.Do(context.Background(), 2); err != nil || v != 20 {
			t.Fatalf("Do: %v, %v", v, err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, b := range r.batches {
			for _, k := range b {
				if k == 1 {
					t.Errorf("key 1 was sent after its caller gave up: %v", r.batches)
				}
			}
		}
	})
}

func TestCoalescerCancelAfterSendIsInDoubtForWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{block: make(chan struct{})}
		defer close(r.block)
		c := NewCoalescer(context.Background(), CoalescerOptions{Name: "StopInstances", Size: 1, Window: time.Millisecond, Write: true}, r.fn)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Do(ctx, 1)
		if !providers.IsInDoubt(err) {
			t.Fatalf("Do: %v, want in doubt", err)
		}
	})
}

func TestCoalescerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{block: make(chan struct{})}
		c := NewCoalescer(context.Background(), CoalescerOptions{Size: 1, Window: time.Millisecond}, r.fn)
		errs := make(chan error, 2)
		go func() { _, err := c.Do(context.Background(), 1); errs <- err }()
		time.Sleep(20 * time.Millisecond) // past the window: the batch of key 1 is in flight, blocked
		synctest.Wait()
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not end the batch in flight")
		}
		if err := <-errs; err == nil {
			t.Error("a call cut by Close succeeded")
		}
		if _, err := c.Do(context.Background(), 2); !errors.Is(err, ErrClosed) {
			t.Errorf("Do after Close: %v, want ErrClosed", err)
		}
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
			firsts = append(firsts, providers.IsFirst(ctx))
			mu.Unlock()
			out := map[string]Result[int]{}
			for _, k := range keys {
				out[k] = Result[int]{Value: 1}
			}
			return out, nil
		})
	defer c.Close()
	for _, batch := range [][]context.Context{
		{context.Background(), providers.WithFirst(context.Background()), context.Background()},
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

// TestCoalescerSizesReadsToBudget: polls gathered while the rate budget
// leaves no call wait (writes first); a re-read marked WithFirst, which a
// change waits for, goes at once in one call, with the oldest ids; the other
// ids keep gathering and join the ids that come next, in calls made as the
// budget allows: fewer calls than one per tick's worth.
func TestCoalescerSizesReadsToBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		budget := 0
		setBudget := func(n int) {
			mu.Lock()
			budget = n
			mu.Unlock()
		}
		r := &recorder{}
		c := NewCoalescer(context.Background(), CoalescerOptions{Name: "Describe", Size: 100, Window: 5 * time.Millisecond,
			Budget: func() int {
				mu.Lock()
				defer mu.Unlock()
				b := budget
				budget = max(budget-1, 0)
				return b
			}}, r.fn)
		defer c.Close()
		var wg sync.WaitGroup
		do := func(ctx context.Context, key int) {
			wg.Go(func() {
				if v, err := c.Do(ctx, key); err != nil || v != key*10 {
					t.Errorf("key %d: %v, %v", key, v, err)
				}
			})
		}
		for i := range 250 {
			do(context.Background(), i)
			synctest.Wait() // in order: the oldest are the lowest
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if got := r.sizes(); len(got) != 0 {
			t.Fatalf("no budget: batch sizes %v, want none sent", got)
		}
		do(providers.WithFirst(context.Background()), 1000) // a re-check, the last to come
		time.Sleep(10 * time.Millisecond)                   // the next look at the budget: one call
		synctest.Wait()
		r.mu.Lock()
		if len(r.batches) != 1 || len(r.batches[0]) != 100 || r.batches[0][0] != 1000 || r.batches[0][1] != 0 || r.batches[0][99] != 98 {
			t.Fatalf("a re-check without budget: batches %v, want one of 100: the re-check, then ids 0–98", r.batches)
		}
		r.mu.Unlock()
		// More polls come while the budget is spent: nothing more is sent.
		for i := 250; i < 300; i++ {
			do(context.Background(), i)
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := r.sizes(); len(got) != 1 {
			t.Fatalf("no budget: batch sizes %v, want still the one call", got)
		}
		// The budget comes back: the 151 ids deferred and the 50 new ones
		// go in three calls, no more.
		setBudget(5)
		wg.Wait()
		if got := r.sizes(); !slices.Equal(got, []int{1, 100, 100, 100}) {
			t.Errorf("batch sizes %v, want [1 100 100 100]", got)
		}
	})
}

// TestCoalescerBudgetDefersAtMostMaxDefer: with no budget at all (writes
// keep the bucket empty), a read still goes, one call at a time, once its
// ids have waited MaxDefer.
func TestCoalescerBudgetDefersAtMostMaxDefer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		c := NewCoalescer(context.Background(), CoalescerOptions{Size: 100, Window: 5 * time.Millisecond, MaxDefer: 300 * time.Millisecond,
			Budget: func() int { return 0 }}, r.fn)
		defer c.Close()
		start := time.Now()
		if _, err := c.Do(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 300*time.Millisecond || waited > 310*time.Millisecond {
			t.Errorf("the read went after %v, want at MaxDefer (300ms), within a window", waited)
		}
	})
}

// TestCoalescerWritesIgnoreBudget: a write is never deferred by a budget.
func TestCoalescerWritesIgnoreBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		c := NewCoalescer(context.Background(), CoalescerOptions{Size: 100, Window: 5 * time.Millisecond, Write: true,
			Budget: func() int { return 0 }}, r.fn)
		defer c.Close()
		start := time.Now()
		if _, err := c.Do(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 5*time.Millisecond {
			t.Errorf("the write went after %v, want at the window's end (5ms)", waited)
		}
	})
}
