package batch

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/coalesce"
)

// TestBatcherStatusPollsWaitForReadBudget: a driver's status polls are sized
// to the read budget its limiter gives (BatchCalls.ReadBudget): with none
// left, a poll waits (at most coalesce.DefaultMaxDefer), while the re-read
// of an instance about to be changed (WithFirst) goes at once.
func TestBatcherStatusPollsWaitForReadBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls [][]string
		b := NewBatcher(providers.Config{}, BatchCalls{
			Status: func(_ context.Context, ids []string) (map[string]providers.Instance, error) {
				mu.Lock()
				calls = append(calls, ids)
				mu.Unlock()
				out := map[string]providers.Instance{}
				for _, id := range ids {
					out[id] = providers.Instance{ID: id, State: providers.StateRunning}
				}
				return out, nil
			},
			StatusName: "Describe", StatusSize: 100,
			ReadBudget: func() int { return 0 }, // writes hold every token
		})
		defer b.Close()
		start := time.Now()
		if _, err := b.Status(providers.WithFirst(context.Background()), "recheck"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 10*time.Millisecond {
			t.Errorf("the re-read went after %v, want at once (within its gathering window)", took)
		}
		start = time.Now()
		if _, err := b.Status(context.Background(), "poll"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < coalesce.DefaultMaxDefer {
			t.Errorf("the poll went after %v without a budget, want it held back for %v", took, coalesce.DefaultMaxDefer)
		}
		if len(calls) != 2 {
			t.Errorf("status calls %v, want two", calls)
		}
	})
}
