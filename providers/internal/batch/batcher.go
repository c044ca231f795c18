package batch

import (
	"context"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/coalesce"
)

// PowerFunc stops or starts a batch of instances in one call, with a result
// per id.
type PowerFunc = coalesce.BatchFunc[string, struct{}]

// BatchCalls are a cloud's batch calls, named as its API names them, with how
// many ids each takes.
type BatchCalls struct {
	Status              LookupFunc
	StatusName          string
	StatusSize          int
	Stop, Start         PowerFunc
	StopName, StartName string
	PowerSize           int
	// ReadBudget, when set, is how many status calls may go now without
	// taking a token a waiting write needs (the caller's limiter's
	// ReadCalls): status polls are sized to it (coalesce.CoalescerOptions.Budget).
	ReadBudget func() int
}

// Batcher gives a client the per-instance calls of Provider (Status, Stop,
// Start) on top of its batch calls: concurrent calls are gathered into one
// batch call, and each caller gets its own instance's result. A client embeds
// it, and Close stops it.
type Batcher struct {
	status      *coalesce.Coalescer[string, providers.Instance]
	stop, start *coalesce.Coalescer[string, struct{}]
}

// NewBatcher returns the coalescers of calls: status polls with
// cfg's StatusWindow (they come on shared ticks) and sized to the rate budget
// the writes leave, stops and starts with its BatchWindow.
func NewBatcher(cfg providers.Config, calls BatchCalls) Batcher {
	ctx := context.Background()
	return Batcher{
		status: coalesce.NewCoalescer(ctx, coalesce.CoalescerOptions{Name: calls.StatusName, Size: calls.StatusSize, Window: cfg.StatusWindowOrDefault(), Budget: calls.ReadBudget}, StatusBatches(calls.Status)),
		stop:   coalesce.NewCoalescer(ctx, coalesce.CoalescerOptions{Name: calls.StopName, Size: calls.PowerSize, Window: cfg.BatchWindow, Write: true}, calls.Stop),
		start:  coalesce.NewCoalescer(ctx, coalesce.CoalescerOptions{Name: calls.StartName, Size: calls.PowerSize, Window: cfg.BatchWindow, Write: true}, calls.Start),
	}
}

// Status returns one instance's state; concurrent calls share look-up calls.
func (b *Batcher) Status(ctx context.Context, id string) (providers.Instance, error) {
	return b.status.Do(ctx, id)
}

// Stop asks the cloud to stop the instance; concurrent calls share batch stop calls.
func (b *Batcher) Stop(ctx context.Context, id string) error {
	_, err := b.stop.Do(ctx, id)
	return err
}

// Start asks the cloud to start the instance; concurrent calls share batch start calls.
func (b *Batcher) Start(ctx context.Context, id string) error {
	_, err := b.start.Do(ctx, id)
	return err
}

// Close stops the batching; calls after Close fail with coalesce.ErrClosed.
func (b *Batcher) Close() error {
	b.status.Close()
	b.stop.Close()
	b.start.Close()
	return nil
}
